"""Lua scripts load from files, expand their includes once, and survive a script flush."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from shared import scripts


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_an_include_is_expanded_once_even_when_named_twice(tmp_path: Path) -> None:
    _write(tmp_path, "helpers.lua", "local function two() return 2 end\n")
    _write(tmp_path, "main.lua", "-- include: helpers.lua\n-- include: helpers.lua\nreturn two()\n")

    text = scripts.source(tmp_path, "main.lua")

    assert text.count("local function two()") == 1
    assert text.rstrip().endswith("return two()")


async def test_a_registered_script_runs_again_after_redis_forgets_it(
    tmp_path: Path, redis_url: str
) -> None:
    _write(tmp_path, "helpers.lua", "local function double(x) return x * 2 end\n")
    _write(
        tmp_path,
        "double.lua",
        "-- KEYS: none. ARGV[1]: a number. Returns it doubled.\n"
        "-- include: helpers.lua\nreturn double(tonumber(ARGV[1]))\n",
    )
    client = aioredis.Redis.from_url(redis_url)
    try:
        script = scripts.register(client, str(tmp_path / "any_module.py"), "double.lua")
        assert await script(args=[21]) == 42
        await client.script_flush()
        assert await script(args=[4]) == 8
    finally:
        await client.aclose()
