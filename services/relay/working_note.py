""" "⏳ Ассистент работает… N мин" with a "⏹ Стоп" button, while a PO takes long.

A user who has waited ``WORKING_NOTE_AFTER_S`` (default 20 s; 0: never)
for the first reply to their message gets one such message. It is edited
only when its minute count changes, and at most every ``EDIT_EVERY_S``
(30 s), and deleted as soon as the wait ends: the reply's first entry, a
``/stop``, a start failure told, or the "typing…" cap. It follows the
"typing…" indicator's life exactly (:mod:`~services.relay.typing_indicator`
drives it), and like it runs as one loop, with no task per user. Each note
costs the chat up to three sends (send, an edit a minute, delete), which is
why it waits that long. The button's press reaches the ingress as a
callback and is queued as ``/stop``. Kept in memory: a note left by a relay
that died is not edited or deleted by the next owner (which shows its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Final

from services.relay.languages import ChatLanguages
from services.relay.outbound import Outbound
from shared.log import get_logger
from shared.schemas import STOP_BUTTON_DATA
from shared.sending.pieces import ReplyMarkup
from shared.stopping import first_set
from shared.texts import Texts

log = get_logger(__name__)

EDIT_EVERY_S: Final = 30.0


@dataclass(slots=True)
class _Note:
    chat_id: int
    since: float
    due: float
    """When the note is next sent or edited."""
    message_id: int | None = None
    minutes: int = 0
    busy: bool = False
    """A send or edit is out: the loop leaves the note alone meanwhile."""


class WorkingNotes:
    """One note per waiting user after ``after_s``; see the module docstring."""

    def __init__(
        self,
        outbound: Outbound,
        languages: ChatLanguages,
        *,
        after_s: float,
        edit_every_s: float = EDIT_EVERY_S,
    ) -> None:
        self._outbound = outbound
        self._languages = languages
        self._after_s = after_s
        self._edit_every_s = edit_every_s
        self._notes: dict[int, _Note] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()

    def start(self, user_id: int, chat_id: int) -> None:
        """The user began waiting for a reply (a wait already under way goes on)."""
        if self._after_s <= 0 or user_id in self._notes:
            return
        now = time.monotonic()
        self._notes[user_id] = _Note(chat_id, now, now + self._after_s)
        self._changed.set()

    def stop(self, user_id: int) -> None:
        """The wait ended: the note, if shown, is deleted."""
        note = self._notes.pop(user_id, None)
        if note is not None and note.message_id is not None:
            self._spawn(self._delete(note.chat_id, note.message_id))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._changed.clear()
            delay = self._due()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await first_set(stop, self._changed)
        for user_id in list(self._notes):
            self.stop(user_id)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=3.0)

    def _due(self) -> float | None:
        """Send or edit the notes that are due; the seconds until the next one."""
        now = time.monotonic()
        next_at: float | None = None
        for user_id, note in self._notes.items():
            if note.busy:
                continue
            if note.due <= now:
                minutes = max(1, int((now - note.since) // 60))
                note.due = now + self._edit_every_s
                if minutes != note.minutes:
                    note.busy = True
                    self._spawn(self._show(user_id, note, minutes))
            next_at = note.due if next_at is None else min(next_at, note.due)
        return None if next_at is None else max(0.0, next_at - now)

    async def _show(self, user_id: int, note: _Note, minutes: int) -> None:
        try:
            texts = await self._languages.texts(note.chat_id)
            text = texts.working_note.format(minutes=minutes)
            if note.message_id is None:
                note.message_id = await self._outbound.note(note.chat_id, text, _markup(texts))
            else:
                edited = (note.chat_id, note.message_id, text, _markup(texts))
                await self._outbound.edit_note(*edited)
            note.minutes = minutes
        finally:
            note.busy = False
        if self._notes.get(user_id) is not note and note.message_id is not None:
            # The reply came while the note was going out: it must not stay.
            await self._delete(note.chat_id, note.message_id)

    async def _delete(self, chat_id: int, message_id: int) -> None:
        if not await self._outbound.delete(chat_id, message_id):
            log.info("working_note_not_deleted", chat_id=chat_id, message_id=message_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _markup(texts: Texts) -> ReplyMarkup:
    button = {"text": texts.working_note_stop, "callback_data": STOP_BUTTON_DATA}
    return {"inline_keyboard": [[button]]}
