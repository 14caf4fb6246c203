"""From raw update JSON to handled updates: the path polling and webhook share.

Telegram sends dicts. A batch is validated in one call (as aiogram's own
``getUpdates`` does; per update it costs noticeably more), and only when
that fails one by one, so one malformed update (a shape aiogram's models
reject) is logged once and skipped instead of failing its whole batch,
which would come back forever. Unknown update
types validate (aiogram keeps extra fields) and are dropped by the auth
middleware: no person behind them.

Each update is fed with its own ``outbox`` (and ``keyboards`` bound to
it) in aiogram's ``feed_update`` keyword arguments, which aiogram merges
into the handler data over the dispatcher's own: whatever a handler, or the
auth middleware, says goes into the batch with that update's id, to be
stored with it (``outbox``, ``intake``).

An exception out of the dispatcher is a bug or an input nobody foresaw:
it is logged with its traceback and the update counts as handled. Holding
it would block every update behind it and come back after each restart;
Redis failures, the one kind worth waiting out, cannot happen here,
because handlers only fill the ``IntakeBatch`` that the caller stores.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any, Final

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import TypeAdapter, ValidationError

from services.ingress.batch import IntakeBatch
from services.ingress.keyboard_sessions import KeyboardSessions
from services.ingress.outbox import AnswerRoom, Outbox
from shared.log import get_logger
from shared.metrics import Metrics

log = get_logger(__name__)

_UPDATES: Final = TypeAdapter(list[Update])


class UpdateProcessor:
    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        room: AnswerRoom,
        keyboards: KeyboardSessions,
        metrics: Metrics | None = None,
    ) -> None:
        self._dp = dp
        self._bot = bot
        self._room = room
        self._keyboards = keyboards
        self._metrics = metrics or Metrics("ingress")

    async def handle(self, raws: Sequence[Any]) -> IntakeBatch:
        """Handle ``raws`` in order; return the messages and answers they produced, to be stored."""
        batch = IntakeBatch()
        self._count(raws)
        try:
            updates: Sequence[Update | None] = _UPDATES.validate_python(
                raws, context={"bot": self._bot}
            )
        except ValidationError:
            updates = [self.parse(raw) for raw in raws]
        for update in updates:
            if update is not None:
                await self.feed(update, batch)
        return batch

    async def handle_one(self, raw: Any, batch: IntakeBatch) -> None:
        self._count([raw])
        update = self.parse(raw)
        if update is not None:
            await self.feed(update, batch)

    def _count(self, raws: Sequence[Any]) -> None:
        # Once per batch and kind, from the raw dicts: per update it was a
        # noticeable share of the ingress's own cost (bench/ingress.py).
        for kind, count in collections.Counter(map(_kind, raws)).items():
            self._metrics.update_received(kind, count)

    async def feed(self, update: Update, batch: IntakeBatch) -> None:
        try:
            outbox = Outbox(self._room, batch, update.update_id)
            await self._dp.feed_update(
                self._bot,
                update,
                intake=batch,
                outbox=outbox,
                keyboards=self._keyboards.bind(outbox),
            )
        except Exception:
            log.exception("update_failed", update_id=update.update_id)

    def parse(self, raw: Any) -> Update | None:
        try:
            return Update.model_validate(raw, context={"bot": self._bot})
        except ValidationError as exc:
            # Field paths only: the values can be the users' words.
            where = [".".join(str(part) for part in error["loc"]) for error in exc.errors()[:3]]
            self._metrics.update_rejected("malformed")
            log.warning(
                "update_malformed", update_id=update_id_of(raw), errors=exc.error_count(), at=where
            )
            return None


def _kind(raw: Any) -> str:
    """A raw update's type: its one key besides ``update_id`` ("other" if none)."""
    if isinstance(raw, dict):
        for key in raw:
            if key != "update_id":
                return str(key)
    return "other"


def update_id_of(raw: Any) -> int | None:
    """The ``update_id`` of a raw update, if it has a usable one."""
    value = raw.get("update_id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
