"""The ingress's one way to say something in a chat: stored with its update, then sent.

A handler's ``outbox`` adds the answer to its update's ``IntakeBatch`` and
returns at once; the answer is stored with the update and only then sent,
by the courier. The outbox knows the sending side only through
:class:`AnswerRoom`: whether a chat has room for one more answer, and whose
the answer is.

An answer may carry a :class:`Mark`: a Redis key set (with a TTL) just
before it goes out, or, with ``only_if_new``, a key that must not exist yet
(or hold this very answer's id, after a crash) for it to go out at all.
That is how "at most once per keyboard session" holds across restarts and
webhook replicas (``keyboard_sessions``), without a Redis call in the
handler.

The whole path: docs/ARCHITECTURE.md, "Ingress: the answer path".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from services.ingress.batch import IntakeBatch
from shared.formatting.splitting import html_parts
from shared.log import get_logger
from shared.schemas import AnswerMark, StoredAnswer, new_id
from shared.sending.pieces import Piece, ReplyMarkup, pieces

log = get_logger(__name__)

Mark = AnswerMark
"""Stored with the answer (``shared.schemas``): ``Mark(key, ttl_s, only_if_new=False)``."""


class AnswerRoom(Protocol):
    """What the outbox asks of the sending side (``courier.Courier``) before adding an answer."""

    @property
    def instance(self) -> str:
        """The owner stored with each answer: this process."""
        ...

    def refusal(self, chat_id: int, batch: IntakeBatch) -> str | None:
        """Why one more answer to ``chat_id`` must be dropped (None: it may be stored)."""
        ...


class Outbox:
    """What handlers say answers through: bound to one update and its batch.

    Built per update by ``UpdateProcessor`` and passed as ``outbox`` in the
    handler data (overriding nothing: the dispatcher has no outbox of its
    own). Nothing is sent from here: the answer joins the batch and goes out
    once the batch is stored.
    """

    __slots__ = ("_batch", "_room", "_update_id")

    def __init__(self, room: AnswerRoom, batch: IntakeBatch, update_id: int) -> None:
        self._room = room
        self._batch = batch
        self._update_id = update_id

    def say(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool = False,
        reply_markup: ReplyMarkup | None = None,
        mark: Mark | None = None,
    ) -> bool:
        """Answer ``text`` (HTML when ``html``, else plain) in ``chat_id``; ``False`` if dropped."""
        return self._add(chat_id, _pieces(text, html), reply_markup, None, mark)

    def edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        html: bool = False,
        reply_markup: ReplyMarkup | None = None,
    ) -> bool:
        """Edit the bot's message ``message_id`` into ``text`` (one message's worth).

        ``reply_markup`` may only be an inline keyboard (Telegram's rule);
        None removes the message's buttons. ``False`` if dropped, or if
        ``text`` does not fit one message.
        """
        parts = _pieces(text, html)
        if len(parts) != 1:
            log.warning("edit_dropped", chat_id=chat_id, reason="not_one_message", parts=len(parts))
            return False
        return self._add(chat_id, parts, reply_markup, message_id, None)

    def if_discarded(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` if the update's batch is never stored (``IntakeBatch.if_discarded``)."""
        self._batch.if_discarded(undo)

    def _add(
        self,
        chat_id: int,
        parts: list[Piece],
        reply_markup: ReplyMarkup | None,
        edit_of: int | None,
        mark: Mark | None,
    ) -> bool:
        refusal = self._room.refusal(chat_id, self._batch)
        if refusal is not None:
            log.warning("answer_dropped", chat_id=chat_id, reason=refusal)
            return False
        answer = StoredAnswer(
            chat_id=chat_id,
            pieces=parts,
            reply_markup=None if reply_markup is None else dict(reply_markup),
            edit_of=edit_of,
            mark=mark,
            owner=self._room.instance,
            answer_id=new_id(),
            created_at=self._batch.received_at,
        )
        self._batch.add_answer(self._update_id, answer)
        return True


def _pieces(text: str, html: bool) -> list[Piece]:
    if html:
        return [Piece.html(part) for part in html_parts(text)]
    return pieces(text, markdown=False)
