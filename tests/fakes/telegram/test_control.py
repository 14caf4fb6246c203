"""The control API under /_fake drives the fake and reads it over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter

from services.fakes.telegram import FakeTelegram, FloodLimits
from tests.fakes.telegram import PRIVATE


async def test_control_api_injects_messages_blocks_chats_and_reads_them(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    control = fake_telegram.control_url
    async with aiohttp.ClientSession() as http:
        posted = await http.post(f"{control}/chats/{PRIVATE}/messages", json={"text": "hi bot"})
        assert (await posted.json())["result"]["message"]["text"] == "hi bot"
        [update] = await bot.get_updates()
        assert update.message is not None
        assert update.message.text == "hi bot"

        await bot.send_message(PRIVATE, "hi human")
        chat = await (await http.get(f"{control}/chats/{PRIVATE}")).json()
        assert [m["text"] for m in chat["result"]["messages"]] == ["hi bot", "hi human"]

        await http.post(f"{control}/chats/{PRIVATE}/block", json={"blocked": True})
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(PRIVATE, "blocked now")

        failure = {"method": "getMe", "kind": "retry_after", "retry_after": 3}
        assert (await http.post(f"{control}/failures", json=failure)).status == 200
        with pytest.raises(TelegramRetryAfter):
            await bot.get_me()

        bad = await http.post(f"{control}/failures", json={"kind": "slow"})
        assert bad.status == 400
        calls = await (await http.get(f"{control}/calls", params={"method": "getMe"})).json()
        assert [c["status"] for c in calls["result"]] == [429]


async def post_json(http: aiohttp.ClientSession, url: str, body: object) -> Any:
    async with http.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["result"]


async def test_control_api_covers_edits_callbacks_raw_updates_flood_and_waiting(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    control = fake_telegram.control_url
    await bot.send_message(PRIVATE, "choose")
    async with aiohttp.ClientSession() as http:

        async def wait_for_change(after: int) -> int:
            async with http.get(f"{control}/wait", params={"after": str(after)}) as resp:
                return int((await resp.json())["result"]["version"])

        before = fake_telegram.version
        waiting = asyncio.create_task(wait_for_change(before))
        update = await post_json(http, f"{control}/chats/{PRIVATE}/messages", {"text": "a"})
        assert await waiting > before

        edit = {"message_id": update["message"]["message_id"], "text": "b"}
        await post_json(http, f"{control}/chats/{PRIVATE}/edits", edit)
        await post_json(http, f"{control}/chats/{PRIVATE}/callbacks", {"data": "yes"})
        raw = {"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -5, "type": "channel"}}}
        await post_json(http, f"{control}/updates", raw)
        await post_json(http, f"{control}/flood", {"off": True})

    updates = await bot.get_updates()
    kinds = [next(k for k in u.model_dump(exclude_none=True) if k != "update_id") for u in updates]
    assert kinds == ["message", "edited_message", "callback_query", "channel_post"]
    assert [u.update_id for u in updates] == sorted({u.update_id for u in updates})
    edited = updates[1].edited_message
    assert edited is not None
    assert edited.text == "b"
    assert fake_telegram.flood.limits == FloodLimits.off()


async def test_a_user_message_over_4096_utf16_units_is_refused_as_no_client_sends_it(
    fake_telegram: FakeTelegram,
) -> None:
    control = fake_telegram.control_url
    async with aiohttp.ClientSession() as http:
        longest = await http.post(f"{control}/chats/{PRIVATE}/messages", json={"text": "😀" * 2048})
        too_long = await http.post(f"{control}/chats/{PRIVATE}/messages", json={"text": "x" * 4097})

    assert longest.status == 200
    assert too_long.status == 400
    assert "split it" in (await too_long.json())["error"]
    assert len(fake_telegram.chat(PRIVATE).messages) == 1
