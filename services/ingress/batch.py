"""What handling a batch of updates produced, waiting to be stored: data only.

Handlers add chat messages (``chat``) and answers (through the ``Outbox``)
to the ``IntakeBatch`` of the updates being handled; ``Intake.store`` puts
it in Redis; only then are its updates confirmed and its answers sent.
Everything is encoded as it is added, inside the handler, so a message
that cannot be encoded fails its own update and not the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from shared import keys
from shared.schemas import IncomingMessage, StoredAnswer, encode, utc_now_iso


class PendingMessage(NamedTuple):  # a tuple: built for every message, cheaper than a dataclass
    update_id: int
    user_id: int
    request_id: str
    stream: str
    data: str
    """The ``IncomingMessage`` as JSON text, the stream entry's ``data`` field."""


class PendingAnswer(NamedTuple):
    update_id: int
    answer: StoredAnswer
    data: str
    """The ``StoredAnswer`` as JSON text, the ``bot:answers`` entry's ``data`` field."""


class StoredAnswerEntry(NamedTuple):
    """An answer as stored: its ``bot:answers`` entry id, and the answer."""

    entry_id: str
    answer: StoredAnswer


class IntakeBatch:
    """Messages and answers produced while handling one batch of updates, not yet stored."""

    __slots__ = ("_answers", "_chats", "_pending", "_undo", "received_at")

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] | None = None
        self._pending: list[PendingMessage] = []
        self._answers: list[PendingAnswer] = []
        self._chats: dict[int, int] = {}
        """Answers in this batch per chat (the outbox's bound counts them too)."""
        self.received_at = utc_now_iso()
        """When the batch arrived: the ``timestamp`` of its messages (one clock read per batch)."""

    def add(self, message: IncomingMessage) -> None:
        stream = keys.incoming(keys.partition_of(message.user_id))
        data = encode(message).decode()
        self._pending.append(
            PendingMessage(message.update_id, message.user_id, message.request_id, stream, data)
        )

    def add_answer(self, update_id: int, answer: StoredAnswer) -> None:
        """An answer to update ``update_id``: stored with it, sent once stored."""
        data = encode(answer).decode()
        self._answers.append(PendingAnswer(update_id, answer, data))
        self._chats[answer.chat_id] = self._chats.get(answer.chat_id, 0) + 1

    def if_discarded(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` if this batch is given up unstored (its updates will come again).

        For what a handler remembers in memory about an answer it added (a
        stranger told, a keyboard offered): an answer never stored was never
        sent, so the update Telegram delivers again must be answered again.
        """
        if self._undo is None:
            self._undo = []
        self._undo.append(undo)

    def discard(self) -> None:
        """This batch will not be stored: undo what its handlers remembered."""
        undo, self._undo = self._undo or [], None
        for step in reversed(undo):
            step()

    def answers_to(self, chat_id: int) -> int:
        return self._chats.get(chat_id, 0)

    @property
    def answer_chats(self) -> Sequence[int]:
        return list(self._chats)

    def __len__(self) -> int:
        return len(self._pending) + len(self._answers)

    @property
    def pending(self) -> Sequence[PendingMessage]:
        return self._pending

    @property
    def answers(self) -> Sequence[PendingAnswer]:
        return self._answers


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (valid in JSON escapes, not in UTF-8) replaced by U+FFFD.

    For what a user wrote or named, before it is added: it could not be encoded otherwise.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
