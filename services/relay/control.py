"""The user's ``/stop`` and confirmed ``/new``, acted on by the relay that owns them.

The ingress puts both in the user's ``bot:incoming:{p}`` like a chat
message (``IncomingMessage.kind``), so they keep the user's order and reach
whichever relay owns the partition at once. One fenced script each, which
also moves ``bot:fwd:{p}`` past the entry, so a re-read never acts twice:

- ``cancel.lua``: the user's current request (the oldest pending one not
  stopped) is marked stopped and, where the profile can say it, a ``cancel``
  input entry tells the PO. Its snapshots and final reply are then hidden
  (:mod:`~services.relay.cancellations`); later messages are answered.
- ``restart.lua``: every pending request is marked stopped, the worker gets
  one ``delete`` (only if a session or a live worker exists), the session,
  spawn guard, start watch and "typing…" records go, and the next message
  spawns a fresh PO. A confirmation acted on before is ignored, however
  often it is pressed and on however many ingresses.

The user is told in one short line, sent in the background under a key of
the entry (a re-read never tells twice). See docs/ARCHITECTURE.md,
"Conversation control".
"""

from __future__ import annotations

import asyncio
from typing import Final

import redis.asyncio as aioredis

from services.relay import keyspace
from services.relay.cancellations import Cancellations
from services.relay.contracts import ControlContract
from services.relay.languages import ChatLanguages
from services.relay.outbound import Outbound
from services.relay.reactions import AckReactions
from services.relay.sessions import Lost
from services.relay.startwatch import StartWatch
from services.relay.typing_indicator import TypingIndicator
from shared import keys
from shared.connections import text
from shared.log import get_logger
from shared.metrics import Metrics
from shared.schemas import IncomingMessage
from shared.scripts import register

log = get_logger(__name__)

CANCELS_PLACEHOLDER: Final = "@@CANCELS@@"
"""Where ``cancel.lua`` writes the stopped request's id into the PO's cancel entry."""
RECORD_TTL_S: Final = 7 * 24 * 60 * 60
"""How long a stopped request's record and a ``/new`` mark live: past any session."""
NOTICE_WAIT_S: Final = 5.0
"""On the way out, how long notices still being sent get to finish."""
_STATUS_PREFIX: Final = keys.worker_status("")


class ConversationControl:
    """Runs the control scripts and tells the user; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        identity: str,
        contract: ControlContract,
        outbound: Outbound,
        typing: TypingIndicator,
        cancellations: Cancellations,
        reactions: AckReactions,
        watch: StartWatch,
        languages: ChatLanguages,
        metrics: Metrics,
    ) -> None:
        self._identity = identity
        self._contract = contract
        self._outbound = outbound
        self._typing = typing
        self._cancellations = cancellations
        self._reactions = reactions
        self._watch = watch
        self._languages = languages
        self._metrics = metrics
        self._has_workers = bool(contract.delete_command(0))
        self._cancel = register(redis, __file__, "cancel.lua")
        self._restart = register(redis, __file__, "restart.lua")
        self._notices: set[asyncio.Task[None]] = set()

    async def handle(self, partition: int, entry_id: str, message: IncomingMessage) -> Lost | None:
        """Act on a control entry once; ``Lost``: the partition is not this relay's."""
        await self._languages.note(message.chat_id, message.language)
        if message.kind == "cancel":
            return await self._stop(partition, entry_id, message)
        if message.kind == "restart":
            return await self._start_over(partition, entry_id, message)
        raise ValueError(f"not a control entry: {message.kind!r}")

    async def _stop(self, partition: int, entry_id: str, message: IncomingMessage) -> Lost | None:
        user_id = message.user_id
        data = self._contract.cancel_data(message, CANCELS_PLACEHOLDER)
        reply = await self._cancel(
            keys=[
                keyspace.lease(partition),
                keyspace.forwarded(partition),
                keys.incoming(partition),
                keys.pending(user_id),
                keys.cancelled(user_id),
                keyspace.cancelling(partition),
                keyspace.typing(partition),
                self._contract.input_stream(user_id),
                keys.acks(user_id),
            ],
            args=[self._identity, entry_id, user_id, data or b"", RECORD_TTL_S],
        )
        outcome = text(reply[0])
        if outcome == "lost":
            return Lost()
        if outcome == "duplicate":
            return None
        if outcome == "idle":
            self._metrics.conversation_control("stop_idle")
            log.info("stop_nothing_running", user_id=user_id, partition=partition)
            texts = await self._languages.texts(message.chat_id)
            self._tell(message.chat_id, texts.nothing_to_stop, key=f"stop:{entry_id}")
            return None
        request_id, left = text(reply[1]), int(reply[2])
        self._cancellations.add(partition, user_id, [request_id])
        if ack := text(reply[4]):
            self._reactions.answered(message.chat_id, int(ack))
        if left == 0:
            self._typing.stop(user_id)
        self._metrics.conversation_control("stop")
        log.info(
            "request_stopped",
            user_id=user_id,
            partition=partition,
            cancelled_request_id=request_id,
            still_pending=left,
            po_told=bool(data),
        )
        texts = await self._languages.texts(message.chat_id)
        self._tell(message.chat_id, texts.stopped, key=f"stop:{entry_id}")
        return None

    async def _start_over(
        self, partition: int, entry_id: str, message: IncomingMessage
    ) -> Lost | None:
        user_id = message.user_id
        reply = await self._restart(
            keys=[
                keyspace.lease(partition),
                keyspace.forwarded(partition),
                keys.incoming(partition),
                keys.pending(user_id),
                keys.cancelled(user_id),
                keyspace.cancelling(partition),
                keyspace.typing(partition),
                keys.restart_mark(user_id),
                keys.session(user_id),
                keys.spawn_guard(user_id),
                keyspace.start_watch(partition),
                keys.WORKER_COMMANDS,
                keys.acks(user_id),
            ],
            args=[
                self._identity,
                entry_id,
                user_id,
                message.confirm_id,
                self._contract.delete_command(user_id),
                keys.po_worker_id(user_id),
                _STATUS_PREFIX,
                RECORD_TTL_S,
            ],
        )
        outcome = text(reply[0])
        if outcome == "lost":
            return Lost()
        if outcome in ("duplicate", "stale"):
            log.info("restart_already_done", user_id=user_id, confirm_id=message.confirm_id)
            return None
        cancelled, deleted = int(reply[1]), int(reply[2]) == 1
        for ack in reply[3:]:
            self._reactions.answered(message.chat_id, int(text(ack)))
        # The script marked every pending request stopped; the copy follows it.
        await self._cancellations.reload(partition, user_id)
        self._typing.stop(user_id)
        self._watch.forget(user_id)
        self._metrics.conversation_control("restart")
        log.info(
            "conversation_restarted",
            user_id=user_id,
            partition=partition,
            cancelled=cancelled,
            worker_deleted=deleted,
        )
        texts = await self._languages.texts(message.chat_id)
        extra = texts.restart_cancelled.format(count=cancelled) if cancelled else ""
        # No worker to replace (po-service): its context is the PO service's.
        restarted = texts.restarted if self._has_workers else texts.restarted_service
        self._tell(message.chat_id, restarted.format(cancelled=extra), key=f"new:{entry_id}")
        return None

    def _tell(self, chat_id: int, notice: str, *, key: str) -> None:
        """Send ``notice`` in the background: the partition's next entries need not wait."""
        task = asyncio.create_task(self._send(chat_id, notice, key))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def _send(self, chat_id: int, notice: str, key: str) -> None:
        sent = await self._outbound.send(chat_id, notice, key=key, markdown=False)
        log.info("control_notice_sent", chat_id=chat_id, delivery=sent.delivery.value)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``; then the notices still going out get a moment to finish."""
        await stop.wait()
        if self._notices:
            await asyncio.wait(set(self._notices), timeout=NOTICE_WAIT_S)
