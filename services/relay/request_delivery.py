"""One user's ``po-service`` steps delivered: in order, each once, none blocking the rest for good.

A task per user with steps queued (:meth:`RequestDelivery.work`) takes them
one at a time, retrying a step with backoff while Telegram or Redis fails:

- ``answer``: the answer is sent keyed (``reply:{u}:{request id}``), then
  the request is finished (``request_done.lua``); an answer Telegram keeps
  failing on is given up as in the stream profiles (the user told in one
  line, the answer dead-lettered on ``po:response:dead``);
- ``timeout``: an answer that came meanwhile is delivered instead; else the
  user is told once (keyed) and the request waits on as late;
- ``abandon``: a late request whose answer never came is dropped.

A finished step wakes the reader: the user's next request is read. See
``docs/ARCHITECTURE.md``, "PO contract profiles".
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.relay.blocking import Waker
from services.relay.cancellations import Cancellations
from services.relay.contracts import POReply, po_service
from services.relay.cursors import DEAD_LETTER_MAXLEN, dead_letter
from services.relay.languages import ChatLanguages
from services.relay.outbound import Delivery, Outbound
from services.relay.partitions import Ownership
from services.relay.pending_requests import PendingRequest, PendingRequests, RequestUser, Step
from services.relay.reactions import AckReactions
from services.relay.reply_files import ReplyFiles
from services.relay.typing_indicator import TypingIndicator
from shared import keys
from shared.backoff import backoff_delay
from shared.log import get_logger
from shared.metrics import Metrics
from shared.schemas import MalformedEntry, encode_entry
from shared.streams import Fields

log = get_logger(__name__)


class RequestDelivery:
    """Handles the steps queued on each user; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        pending: PendingRequests,
        waker: Waker,
        *,
        identity: str,
        outbound: Outbound,
        ownership: Ownership,
        typing: TypingIndicator,
        late_ms: int,
        languages: ChatLanguages,
        max_attempts: int,
        max_age_s: float,
        metrics: Metrics,
        cancellations: Cancellations,
        reactions: AckReactions,
    ) -> None:
        self._cancellations = cancellations
        self._reactions = reactions
        self._redis = redis
        self._pending = pending
        self._waker = waker
        self._identity = identity
        self._outbound = outbound
        self._ownership = ownership
        self._typing = typing
        self._late_ms = late_ms
        self._languages = languages
        self._max_attempts = max_attempts
        self._max_age_s = max_age_s
        self._metrics = metrics
        self._files = ReplyFiles(outbound, languages)

    async def work(self, user: RequestUser) -> None:
        """The user's queued steps, oldest first, until none is left or the user is forgotten."""
        try:
            while user.steps and self._pending.current(user):
                step, request, fields = user.steps[0]
                attempts = 0
                while not await self._handle(user, step, request, fields):
                    if not self._pending.current(user):
                        return
                    attempts += 1
                    await asyncio.sleep(backoff_delay(attempts))
                user.steps.popleft()
                await self._waker.wake()
        finally:
            user.task = None

    async def _handle(
        self, user: RequestUser, step: Step, request: PendingRequest, fields: Fields
    ) -> bool:
        """One step; False: try again (Telegram or Redis failing)."""
        try:
            if step == "answer":
                return await self._deliver(user, request, fields)
            if step == "timeout":
                # Its answer may have come since the last read (or while it queued behind
                # an earlier one): then it is on time after all.
                found: Any = await self._redis.xrange(
                    po_service.response_stream(request.request_id), count=1
                )
                if found:
                    return await self._deliver(user, request, found[0][1])
                return await self._report_late(user, request)
            log.warning("po_answer_abandoned", user_id=user.user_id, request_id=request.request_id)
            return await self._finish(user, request)
        except RedisError as exc:
            self._ownership.redis_failed()
            log.warning(
                "po_answer_retrying", request_id=request.request_id, error=type(exc).__name__
            )
            return False

    async def _deliver(self, user: RequestUser, request: PendingRequest, fields: Fields) -> bool:
        ids = {"user_id": user.user_id, "request_id": request.request_id}
        if await self._stopped(user, request):
            self._metrics.reply_hidden()
            log.info("reply_hidden", cancelled_request_id=request.request_id, **ids)
            return await self._finish(user, request)
        try:
            reply = po_service.decode_response(fields, request.request_id)
        except MalformedEntry as exc:
            log.warning("po_answer_malformed", error=str(exc), **ids)
            texts = await self._languages.texts(request.chat_id)
            reply = POReply(texts.reply_failed, True, request.request_id)
        if po_service.is_error(fields):
            log.warning("po_answer_error", **ids)
        key = f"reply:{user.user_id}:{request.request_id}"
        sent = await self._files.send_reply(request.chat_id, reply, key=key)
        if sent.delivery is Delivery.RETRY:
            request.sends.note()
            if request.sends.hopeless(self._max_attempts, self._max_age_s):
                return await self._give_up(user, request, fields, sent.error, sent.error_code)
            log.warning("po_answer_send_retrying", error_code=sent.error_code, **ids)
            return False
        if sent.delivery is Delivery.DELIVERED:
            self._metrics.reply_delivered()
            log.info("reply_delivered", **ids)
        else:
            log.warning("reply_undeliverable", error_code=sent.error_code, **ids)
        return await self._finish(user, request)

    async def _give_up(
        self,
        user: RequestUser,
        request: PendingRequest,
        fields: Fields,
        error: str,
        code: int | None,
    ) -> bool:
        """As for the stream profiles: the user told in one line (keyed), the answer
        dead-lettered on ``po:response:dead``, and their next answers follow."""
        key = f"reply-failed:{user.user_id}:{request.request_id}"
        notice = (await self._languages.texts(request.chat_id)).reply_failed
        told = await self._outbound.send(request.chat_id, notice, key=key, markdown=False)
        stream = po_service.response_stream(request.request_id)
        letter = dead_letter(
            stream,
            "0-0",
            fields,
            consumer=self._identity,
            reason="undeliverable",
            error=f"error_code {code}: {error}" if code is not None else error,
            deliveries=request.sends.count,
        )
        await self._redis.xadd(
            keys.dead_letter(po_service.RESPONSE_PREFIX.rstrip(":")),
            encode_entry(letter),  # type: ignore[arg-type]
            maxlen=DEAD_LETTER_MAXLEN,
            approximate=True,
        )
        self._metrics.dead_letter("po_output")
        log.warning(
            "po_answer_given_up",
            user_id=user.user_id,
            request_id=request.request_id,
            deliveries=request.sends.count,
            user_told=told.delivery is Delivery.DELIVERED,
        )
        return await self._finish(user, request)

    async def _stopped(self, user: RequestUser, request: PendingRequest) -> bool:
        """Whether the user stopped this request (``/stop``, ``/new``): its answer is hidden."""
        probe = POReply(None, True, request.request_id)
        return await self._cancellations.hidden(user.user_id, probe) is not None

    async def _report_late(self, user: RequestUser, request: PendingRequest) -> bool:
        if await self._stopped(user, request):
            # Stopped: no "no answer" notice; its answer, if it comes, is hidden.
            if not await self._pending.mark_late(user, request, self._late_ms):
                return self._lost(user)
            return True
        key = f"po-no-answer:{user.user_id}:{request.request_id}"
        notice = (await self._languages.texts(request.chat_id)).po_no_answer
        sent = await self._outbound.send(request.chat_id, notice, key=key, markdown=False)
        if sent.delivery is Delivery.RETRY:
            return False
        if not await self._pending.mark_late(user, request, self._late_ms):
            return self._lost(user)
        log.warning("po_answer_late", user_id=user.user_id, request_id=request.request_id)
        if not user.waiting():
            self._typing.stop(user.user_id)
        return True

    async def _finish(self, user: RequestUser, request: PendingRequest) -> bool:
        done, acked = await self._pending.finish(user, request)
        if not done:
            return self._lost(user)
        self._cancellations.answered(user.user_id, request.request_id)
        if acked is not None:
            self._reactions.answered(request.chat_id, acked)
        if not user.waiting():
            self._typing.stop(user.user_id)
        return True

    def _lost(self, user: RequestUser) -> bool:
        self._ownership.report_lost(user.partition)
        self._pending.forget(user)
        return True
