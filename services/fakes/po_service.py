"""A fake of the platform's PO service (``po-service`` profile): ``po:input`` in, answers out.

It reads ``po:input`` from where it started (plain ``XREAD``, as the bot
never reads that stream), REJECTS an entry carrying ``user_id`` as the
platform does (recorded in ``rejected``, never answered), and answers every
``user_message`` with ``echo: <text>`` on ``po:response:{request_id}`` in
the platform's flat fields. A message with ``attachments`` (a flat field
holding the JSON list) is answered with what its files were, fetched through
their links; ``demo file`` with an image and a document in a flat
``attachments`` field (:mod:`services.fakes.workers.files`). Tests steer it
per text: ``delays`` (answer after so many seconds), ``silent`` (never
answer), ``errors`` (answer with ``error="true"``).

It also starts messages of its own, as the platform's PO does (task
finished, reminders): ``proactive`` writes one on ``po:proactive`` (flat
``text``, ``telegram_chat_id`` and the optional fields), and a chat in
``reminders`` gets a reminder of its last message that many seconds after
the answer to it, unless a newer message starts the wait again (the
sandbox's Alan).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import redis.asyncio as aioredis

from services.fakes.lifecycle import StartStop
from services.fakes.workers.files import (
    DEMO_TEXT,
    demo_attachments,
    describe,
    is_demo,
    read_attachments,
)
from services.fakes.workers.personas import reminder_text
from shared import keys

# Spelled out here, not imported from the relay: a fake must not share the code it tests.
FORBIDDEN_FIELD = "user_id"
"""The platform rejects an entry addressing a user by its internal id."""


def as_text(fields: dict[bytes, bytes]) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in fields.items()}


STOP_WAIT_S = 5.0
ANSWER_WRITERS = 16
"""Answers written at once. The fake shares its client with the test, whose pool
(redis-py 8: 100 connections) a burst of a task per answer once exhausted, losing answers."""


class FakePOService(StartStop):
    """See the module docstring; ``received`` holds every accepted ``po:input`` entry."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        block_ms: int = 200,
        reminders: dict[int, float] | None = None,
    ) -> None:
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
        self.reminders: dict[int, float] = dict(reminders or {})
        """Chat id -> seconds after an answer in that chat when a reminder follows."""
        self.proactive_sent: list[str] = []
        """The ``po:proactive`` entry ids written, in order."""
        self._task: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()
        self._reminders: dict[int, asyncio.Task[None]] = {}
        self._writers = asyncio.Semaphore(ANSWER_WRITERS)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fake-po-service")

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self._answers, *self._reminders.values()] if t]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a task cancelled inside redis-py's blocking XREAD has been seen
            # to hang a test's teardown past its 120 s (session 6); never wait on it for good.
            await asyncio.wait(tasks, timeout=STOP_WAIT_S)

    async def answer(
        self,
        request_id: str,
        chat_id: str,
        text: str,
        *,
        error: bool = False,
        attachments: list[dict[str, str]] | None = None,
    ) -> None:
        """Write an answer now, as the platform does (tests use it for late answers)."""
        fields = {"text": text, "telegram_chat_id": chat_id}
        if error:
            fields["error"] = "true"
        if attachments:
            fields["attachments"] = msgspec.json.encode(attachments).decode()
        async with self._writers:
            await self._redis.xadd(keys.po_response(request_id), fields)  # type: ignore[arg-type]
        self.answered.append(request_id)

    async def proactive(self, chat_id: int, text: str, **optional: str) -> str:
        """Write a message of the PO's own on ``po:proactive``, as the platform does; its id.

        ``optional``: ``owner_user_id``, ``event``, ``story_id``, ``project_id``.
        """
        fields = {"text": text, "telegram_chat_id": str(chat_id), **optional}
        raw_id: Any = await self._redis.xadd(keys.PO_PROACTIVE, fields)  # type: ignore[arg-type]
        entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        self.proactive_sent.append(entry_id)
        return entry_id

    async def _run(self) -> None:
        # Where the stream ends now, as an id: "$" again on every round would miss
        # an entry written between one blocking read timing out and the next.
        newest: Any = await self._redis.xrevrange(keys.PO_INPUT, count=1)
        position = newest[0][0].decode() if newest else "0-0"
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
        files, unreadable = read_attachments(entry.get("attachments"))
        if text in self.errors:
            await self.answer(entry["request_id"], chat, self.errors[text], error=True)
        elif files or unreadable:
            description = await describe(files, text, unreadable=unreadable)
            await self.answer(entry["request_id"], chat, description)
        elif is_demo(text):
            await self.answer(entry["request_id"], chat, DEMO_TEXT, attachments=demo_attachments())
        else:
            await self.answer(entry["request_id"], chat, f"echo: {text}")
        self._schedule_reminder(int(chat), text)

    def _schedule_reminder(self, chat_id: int, text: str) -> None:
        after_s = self.reminders.get(chat_id)
        if after_s is None:
            return
        earlier = self._reminders.pop(chat_id, None)
        if earlier is not None:
            earlier.cancel()  # a newer message starts the wait again
        self._reminders[chat_id] = asyncio.create_task(self._remind(chat_id, text, after_s))

    async def _remind(self, chat_id: int, text: str, after_s: float) -> None:
        await asyncio.sleep(after_s)
        await self.proactive(chat_id, reminder_text(text), event="reminder")
