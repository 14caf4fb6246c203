"""The relay benchmark's echo PO: every user's PO at once, in a process of its own.

    python -m bench.echo_po REDIS_URL USER,USER,... [seed|worker-streams|po-service]

One blocking ``XREAD`` over the PO's input streams; each message is answered
at once with its own text, in the profile's wire shape (CONTRACTS.md):

* ``seed`` (the default): ``worker:po:{u}:input``, ``data`` JSON ``text``;
  the answer on ``worker:po:{u}:output``, ``text`` with ``is_final``;
* ``worker-streams``: ``worker:po-{u}:input``, ``data`` JSON ``content``;
  the answer on ``worker:po-{u}:output``, ``{"content", "status": "success"}``
  (the wrapper's plain shape, as ``services.fakes.workers`` writes it);
* ``po-service``: the one ``po:input`` stream of flat fields; the answer on
  ``po:response:{request_id}``, flat ``text`` and ``telegram_chat_id``
  (as ``services.fakes.po_service`` writes it; the user list is unused).

When each message was read and answered is noted in ``PO_TIMES`` (see
``bench.timeline``), so the bench can take the PO's own time out of each
message's latency. ``bench.processes.start_po`` starts it. The wire names
come from ``shared`` only, not from the relay's contracts: a stand-in must
not share the code it measures.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Final

import msgspec
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from bench.timeline import PO_TIMES
from shared import keys
from shared.schemas import DATA_FIELD, POWorkerInput, decode_entry

PROFILES: Final = ("seed", "worker-streams", "po-service")

Answer = tuple[str, str, dict[FieldT, EncodableT]]
"""What an input entry asks for: its text, the stream to answer on, the answer's fields."""


class EchoPO:
    """One blocking XREAD over the profile's input streams, an echo per entry, timed."""

    def __init__(self, url: str, users: list[int], profile: str = "seed") -> None:
        self._redis = aioredis.Redis.from_url(url, socket_timeout=30)
        self._profile = profile
        self._users: dict[str, int] = {}
        """Input stream -> its user (the stream profiles)."""
        if profile == "po-service":
            self._cursors = {keys.PO_INPUT: "0-0"}
        else:
            for user in users:
                self._users[_input_stream(profile, user)] = user
            self._cursors = dict.fromkeys(self._users, "0-0")

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
                for entry_id, fields in entries:
                    text, output, answer = self._echo(name, fields)
                    texts.append(text)
                    pipe.xadd(output, answer)
                    self._cursors[name] = entry_id.decode()
            await pipe.execute()
        wrote = time.monotonic()
        await self._redis.hset(PO_TIMES, mapping={text: f"{read} {wrote}" for text in texts})

    def _echo(self, stream: str, fields: dict[bytes, bytes]) -> Answer:
        if self._profile == "po-service":
            return _po_service(fields)
        user = self._users[stream]
        if self._profile == "worker-streams":
            return _worker_streams(user, fields)
        return _seed(user, fields)


def _input_stream(profile: str, user: int) -> str:
    if profile == "worker-streams":
        return keys.worker_input(keys.po_worker_id(user))
    return keys.po_input(user)


def _seed(user: int, fields: dict[bytes, bytes]) -> Answer:
    message = decode_entry(fields, POWorkerInput)
    output = {
        "request_id": message.request_id,
        "user_id": user,
        "text": message.text,
        "is_final": True,
    }
    return message.text, keys.po_output(user), {DATA_FIELD: msgspec.json.encode(output)}


def _worker_streams(user: int, fields: dict[bytes, bytes]) -> Answer:
    text = str(msgspec.json.decode(fields[DATA_FIELD.encode()])["content"])
    output = {"content": text, "status": "success"}
    stream = keys.worker_output(keys.po_worker_id(user))
    return text, stream, {DATA_FIELD: msgspec.json.encode(output)}


def _po_service(fields: dict[bytes, bytes]) -> Answer:
    text = fields[b"text"].decode()
    answer: dict[FieldT, EncodableT] = {
        "text": text,
        "telegram_chat_id": fields[b"telegram_chat_id"].decode(),
    }
    return text, keys.po_response(fields[b"request_id"].decode()), answer


def main() -> None:
    url, users = sys.argv[1], sys.argv[2]
    profile = sys.argv[3] if len(sys.argv) > 3 else "seed"
    if profile not in PROFILES:
        sys.exit(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    asyncio.run(EchoPO(url, [int(user) for user in users.split(",")], profile).run())


if __name__ == "__main__":
    main()
