"""A fake of the platform's PO service (``po-service`` profile): ``po:input`` in, answers out.

It reads ``po:input`` from where it started (plain ``XREAD``, as the bot
never reads that stream), REJECTS an entry carrying ``user_id`` as the
platform does (recorded in ``rejected``, never answered), and answers every
``user_message`` with ``echo: <text>`` on ``po:response:{request_id}`` in
the platform's flat fields. Tests steer it per text: ``delays`` (answer
after so many seconds), ``silent`` (never answer), ``errors`` (answer with
``error="true"``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis

from services.fakes.lifecycle import StartStop
from shared import keys

# Spelled out here, not imported from the relay: a fake must not share the code it tests.
FORBIDDEN_FIELD = "user_id"
"""The platform rejects an entry addressing a user by its internal id."""


def as_text(fields: dict[bytes, bytes]) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in fields.items()}


class FakePOService(StartStop):
    """See the module docstring; ``received`` holds every accepted ``po:input`` entry."""

    def __init__(self, redis: aioredis.Redis, *, block_ms: int = 200) -> None:
        self._redis = redis
        self._block_ms = block_ms
        self.received: list[dict[str, str]] = []
        self.rejected: list[dict[str, str]] = []
        self.answered: list[str] = []
        """The request ids answered, in the order their answers were written."""
        self.delays: dict[str, float] = {}
        self.silent: set[str] = set()
        self.errors: dict[str, str] = {}
        """Text -> the explanation sent with ``error="true"``."""
        self._task: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fake-po-service")

    async def stop(self) -> None:
        for task in [self._task, *self._answers]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def answer(
        self, request_id: str, chat_id: str, text: str, *, error: bool = False
    ) -> None:
        """Write an answer now, as the platform does (tests use it for late answers)."""
        fields = {"text": text, "telegram_chat_id": chat_id}
        if error:
            fields["error"] = "true"
        await self._redis.xadd(keys.po_response(request_id), fields)  # type: ignore[arg-type]
        self.answered.append(request_id)

    async def _run(self) -> None:
        position = "$"
        while True:
            reply: Any = await self._redis.xread({keys.PO_INPUT: position}, block=self._block_ms)
            for _stream, entries in reply or []:
                for raw_id, fields in entries:
                    position = raw_id.decode()
                    self._take(as_text(fields))

    def _take(self, entry: dict[str, str]) -> None:
        if FORBIDDEN_FIELD in entry:
            self.rejected.append(entry)
            return
        if entry.get("type") != "user_message":
            return
        self.received.append(entry)
        text = entry["text"]
        if text in self.silent:
            return
        task = asyncio.create_task(self._reply(entry, self.delays.get(text, 0.0)))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _reply(self, entry: dict[str, str], delay_s: float) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        text = entry["text"]
        chat = entry["telegram_chat_id"]
        if text in self.errors:
            await self.answer(entry["request_id"], chat, self.errors[text], error=True)
        else:
            await self.answer(entry["request_id"], chat, f"echo: {text}")
