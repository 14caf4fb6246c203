"""The relay benchmark's echo PO: every user's PO at once, in a process of its own.

    python -m bench.echo_po REDIS_URL USER,USER,...

One blocking ``XREAD`` over the listed users' input streams; each message is
answered at once with its own text, and when it was read and answered is
noted in ``PO_TIMES`` (see ``bench.timeline``), so the bench can take the
PO's own time out of each message's latency. ``bench.processes.start_po``
starts it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import msgspec
import redis.asyncio as aioredis

from bench.timeline import PO_TIMES
from shared import keys
from shared.schemas import POWorkerInput, decode_entry


class EchoPO:
    """Every user's PO at once, in a process of its own: one blocking XREAD, an echo, timed."""

    def __init__(self, url: str, users: list[int]) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_timeout=30)
        self._cursors = {keys.po_input(user): "0-0" for user in users}

    async def run(self) -> None:
        try:
            while True:
                reply: Any = await self._redis.xread(self._cursors, count=100, block=5000)  # type: ignore[arg-type]
                if reply:
                    await self._answer(reply)
        finally:
            await self._redis.aclose()

    async def _answer(self, reply: Any) -> None:
        read = time.monotonic()
        texts = []
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream, entries in reply:
                name = stream.decode()
                user_id = int(name.split(":")[2])
                for entry_id, fields in entries:
                    message = decode_entry(fields, POWorkerInput)
                    texts.append(message.text)
                    output = {
                        "request_id": message.request_id,
                        "user_id": user_id,
                        "text": message.text,
                        "is_final": True,
                    }
                    pipe.xadd(keys.po_output(user_id), {"data": msgspec.json.encode(output)})
                    self._cursors[name] = entry_id.decode()
            await pipe.execute()
        wrote = time.monotonic()
        await self._redis.hset(PO_TIMES, mapping={text: f"{read} {wrote}" for text in texts})


def main() -> None:
    url, users = sys.argv[1], sys.argv[2]
    asyncio.run(EchoPO(url, [int(user) for user in users.split(",")]).run())


if __name__ == "__main__":
    main()
