"""Lua scripts: kept in ``.lua`` files beside the module that runs them.

Every script starts with a header naming its KEYS and ARGV. A line
``-- include: NAME.lua`` pulls in a file of helper functions from the same
folder, once, so helpers shared by several scripts are written once.
Scripts are registered with redis-py's ``register_script``: it runs them by
SHA and reloads them by itself after a Redis restart (``NOSCRIPT``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

_INCLUDE = re.compile(r"^--\s*include:\s*(?P<name>[\w.-]+\.lua)\s*$", re.MULTILINE)


@functools.cache
def source(folder: Path, name: str) -> str:
    """The text of ``folder/name`` with its includes expanded (each at most once)."""
    seen: set[str] = set()

    def expand(file: str) -> str:
        if file in seen:
            return ""
        seen.add(file)
        text = (folder / file).read_text(encoding="utf-8")
        return _INCLUDE.sub(lambda m: expand(m["name"]), text)

    return expand(name)


def register(redis: aioredis.Redis, module_file: str, name: str) -> AsyncScript:
    """The script ``name`` from the folder of ``module_file`` (pass ``__file__``)."""
    return redis.register_script(source(Path(module_file).parent, name))
