"""The relay process: partitions leased, messages forwarded, replies delivered, until SIGTERM.

:mod:`~services.relay.partitions` ticks the leases and starts or stops each
component per partition; :mod:`~services.relay.incoming` forwards the
messages with :mod:`~services.relay.sessions`; :mod:`~services.relay.replies`
reads the PO replies and :mod:`~services.relay.reply_delivery` sends them
through :mod:`~services.relay.outbound` (in ``po-service``:
:mod:`~services.relay.request_forwarder` and :mod:`~services.relay.request_replies`
instead); :mod:`~services.relay.typing_indicator` and
:mod:`~services.relay.startwatch` keep the user informed meanwhile. Any
number of relays run side by side; any can die at any moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
from collections.abc import AsyncIterator
from typing import Protocol

import redis.asyncio as aioredis

from services.relay import contracts
from services.relay.cancellations import Cancellations
from services.relay.control import ConversationControl
from services.relay.cursors import Cursors
from services.relay.incoming import IncomingReader
from services.relay.languages import ChatLanguages
from services.relay.leases import Leases
from services.relay.lifecycle import LifecycleWatch
from services.relay.outbound import Outbound, TelegramOutbound
from services.relay.partitions import PartitionCoordinator
from services.relay.reactions import AckReactions
from services.relay.replies import ReplyForwarder
from services.relay.request_forwarder import RequestForwarder
from services.relay.request_replies import RequestReplies
from services.relay.sessions import Duplicate, Forwarded, Forwarder, SessionForwarder
from services.relay.settings import RelaySettings
from services.relay.startwatch import StartWatch
from services.relay.typing_indicator import TypingIndicator
from services.relay.wakeups import Users, Wakeups
from services.relay.working_note import WorkingNotes
from shared import keys
from shared.api import ApiClient
from shared.connections import redis_client
from shared.entrypoint import EXIT_CONFIG
from shared.health import Heartbeat, serve_process_health
from shared.log import get_logger
from shared.metrics import Metrics
from shared.ratelimit import FloodBudget
from shared.redis_check import check_redis
from shared.schemas import IncomingMessage
from shared.stopping import install_stop_signals
from shared.telegram import TelegramClient

log = get_logger(__name__)


class Answers(Protocol):
    """The PO's answers to the owned partitions' users: read, delivered in order."""

    @property
    def backlog(self) -> int: ...

    async def start_partition(self, partition: int) -> None: ...

    async def stop_partition(self, partition: int, *, drain: bool) -> None: ...

    async def activate(
        self, partition: int, user_id: int, chat_id: int, position: str, *, fresh: bool = False
    ) -> None:
        """A message of the user reached the PO (``position``: where its answers are).

        ``fresh``: just forwarded by this relay (not a re-read found done before).
        """
        ...

    async def run(self, stop: asyncio.Event) -> None: ...


class Relay:
    """One relay process's components, wired together."""

    def __init__(
        self,
        settings: RelaySettings,
        redis: aioredis.Redis,
        blocking: aioredis.Redis,
        outbound: Outbound,
        *,
        metrics: Metrics | None = None,
        heartbeat: Heartbeat | None = None,
        users: Users | None = None,
    ) -> None:
        self.metrics = metrics or Metrics("relay")
        # The one place the profile is chosen: every component gets the contract.
        # Each user's notes in the language they last wrote in (``languages``); the
        # contract's one text (a result without words) in DEFAULT_LANGUAGE.
        self.languages = languages = ChatLanguages(redis, settings.default_language)
        contract = contracts.for_name(settings.po_contract, languages.default)
        self._heartbeat = heartbeat
        # The random part tells this process from a restarted one of the same name.
        self.identity = f"{settings.relay_name}#{secrets.token_hex(4)}"
        self.leases = Leases(
            redis,
            self.identity,
            partitions=keys.PARTITIONS,
            ttl_ms=int(settings.lease_ttl_s * 1000),
        )
        cursors = Cursors(redis, self.identity)
        self.notes = WorkingNotes(outbound, languages, after_s=settings.working_note_after_s)
        self.typing = TypingIndicator(
            redis, outbound, cap_s=settings.typing_cap_s, notes=self.notes
        )
        self.lifecycle = LifecycleWatch(
            redis,
            blocking,
            contract=contract,
            outbound=outbound,
            ownership=self,
            typing=self.typing,
            languages=languages,
        )
        self.watch = StartWatch(
            redis,
            identity=self.identity,
            outbound=outbound,
            ownership=self,
            languages=languages,
            typing=self.typing,
        )
        self.cancellations = Cancellations(redis)
        self.reactions = AckReactions(redis, outbound, enabled=settings.ack_reactions)
        self.answers, forwarder = self._po_side(
            settings, contract, redis, blocking, outbound, cursors, languages
        )
        self.control = ConversationControl(
            redis,
            identity=self.identity,
            contract=contract,
            outbound=outbound,
            typing=self.typing,
            cancellations=self.cancellations,
            reactions=self.reactions,
            watch=self.watch,
            languages=languages,
            metrics=self.metrics,
        )
        self.incoming = IncomingReader(
            redis,
            blocking,
            identity=self.identity,
            forwarder=forwarder,
            cursors=cursors,
            ownership=self,
            listener=self,
            control=self.control,
            album_window_ms=settings.album_window_ms,
            metrics=self.metrics,
        )
        self.wakeups = self._wakeups(settings, contract, redis, users)
        wakeups = [self.wakeups] if self.wakeups is not None else []
        # Typing before replies: a reply read at once stops the "typing…" it
        # resumed. Replies before incoming: forwarding activates a user's replies;
        # wake-ups after replies: a woken user joins a started reader.
        self.coordinator = PartitionCoordinator(
            self.leases,
            [
                self.typing,
                self.cancellations,
                self.answers,
                *wakeups,
                self.watch,
                self.incoming,
            ],
            tick_s=settings.lease_tick_s,
            on_turn=self._on_turn,
        )

    def _po_side(
        self,
        settings: RelaySettings,
        contract: contracts.POContract | contracts.PoServiceContract,
        redis: aioredis.Redis,
        blocking: aioredis.Redis,
        outbound: Outbound,
        cursors: Cursors,
        languages: ChatLanguages,
    ) -> tuple[Answers, Forwarder]:
        """The profile's forwarder and answer reader: per-user streams, or requests."""
        if isinstance(contract, contracts.PoServiceContract):
            requests = RequestReplies(
                redis,
                blocking,
                identity=self.identity,
                outbound=outbound,
                ownership=self,
                typing=self.typing,
                late_s=settings.po_late_answer_s,
                reply_timeout_s=settings.po_reply_timeout_s,
                languages=languages,
                max_attempts=settings.reply_max_attempts,
                max_age_s=settings.reply_max_age_s,
                metrics=self.metrics,
                cancellations=self.cancellations,
                reactions=self.reactions,
            )
            return requests, RequestForwarder(
                redis,
                self.identity,
                reply_timeout_s=settings.po_reply_timeout_s,
                reactions=settings.ack_reactions,
                typing_cap_ms=self.typing.cap_ms,
            )
        replies = ReplyForwarder(
            redis,
            blocking,
            identity=self.identity,
            outbound=outbound,
            cursors=cursors,
            ownership=self,
            typing=self.typing,
            languages=languages,
            concurrency=settings.reply_concurrency,
            max_attempts=settings.reply_max_attempts,
            max_age_s=settings.reply_max_age_s,
            metrics=self.metrics,
            contract=contract,
            cancellations=self.cancellations,
            reactions=self.reactions,
        )
        forwarder = SessionForwarder(
            redis,
            self.identity,
            api_url=settings.api_url,
            instructions=settings.po_instructions,
            allowed_commands=list(settings.po_allowed_commands),
            start_timeout_s=settings.po_start_timeout_s,
            typing_cap_ms=self.typing.cap_ms,
            contract=contract,
            reactions=settings.ack_reactions,
            steer=settings.busy_policy == "steer",
        )
        return replies, forwarder

    def _wakeups(
        self,
        settings: RelaySettings,
        contract: contracts.POContract | contracts.PoServiceContract,
        redis: aioredis.Redis,
        users: Users | None,
    ) -> Wakeups | None:
        """Idle users woken when their PO writes: the stream profiles' (po-service has none)."""
        if isinstance(contract, contracts.PoServiceContract):
            return None
        return Wakeups(
            redis,
            identity=self.identity,
            contract=contract,
            replies=self.replies,
            ownership=self,
            users=users,
            sweep_every_s=settings.idle_sweep_s,
            metrics=self.metrics,
        )

    @property
    def replies(self) -> ReplyForwarder:
        """The stream profiles' reply reader (tests look into it)."""
        if not isinstance(self.answers, ReplyForwarder):
            raise TypeError("po-service has no per-user reply reader")
        return self.answers

    def _on_turn(self) -> None:
        """Each lease tick (every LEASE_TICK_S): proof of life, and the backlog gauges."""
        if self._heartbeat is not None:
            self._heartbeat.beat()
        self.metrics.set_stream_pending("incoming", self.incoming.backlog)
        self.metrics.set_stream_pending("po_output", self.answers.backlog)

    # --- Ownership, for the components -------------------------------------------------

    def owns(self, partition: int) -> bool:
        return self.coordinator.owns(partition)

    def report_lost(self, partition: int) -> None:
        self.coordinator.report_lost(partition)

    def redis_failed(self) -> None:
        self.coordinator.redis_failed()

    async def confirmed(self, partition: int) -> bool:
        return await self.coordinator.confirmed(partition)

    # --- ForwardListener ---------------------------------------------------------------

    async def forwarded(self, partition: int, message: IncomingMessage, result: Forwarded) -> None:
        # Typing first: a fast PO's reply, read while activate() awaits Redis,
        # must find it on, to stop it; started after, it would run to its cap.
        self.typing.start(message.user_id, message.chat_id, partition)
        # Before the reply is read: a note about it is in the language just written in.
        await self.languages.note(message.chat_id, message.language)
        if message.kind == "message":  # a button press's message is the bot's own question
            self.reactions.received(
                message.user_id, result.request_id, message.chat_id, message.message_id
            )
        await self.answers.activate(
            partition, message.user_id, message.chat_id, result.reply_cursor, fresh=True
        )
        if result.watch:
            self.watch.opened(partition, message.user_id, result.watch)

    async def already_forwarded(
        self, partition: int, message: IncomingMessage, result: Duplicate
    ) -> None:
        await self.languages.note(message.chat_id, message.language)
        if result.reply_cursor:
            await self.answers.activate(
                partition, message.user_id, message.chat_id, result.reply_cursor
            )
        if result.watch and not self.watch.watching(message.user_id):
            self.watch.opened(partition, message.user_id, result.watch)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: then drain, release every partition and leave."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.coordinator.run(stop), name="relay-partitions")
            group.create_task(self.incoming.run(stop), name="relay-incoming")
            group.create_task(self.answers.run(stop), name="relay-replies")
            group.create_task(self.typing.run(stop), name="relay-typing")
            group.create_task(self.watch.run(stop), name="relay-start-watch")
            group.create_task(self.lifecycle.run(stop), name="relay-lifecycle")
            group.create_task(self.control.run(stop), name="relay-control")
            group.create_task(self.reactions.run(stop), name="relay-reactions")
            group.create_task(self.notes.run(stop), name="relay-working-notes")
            if self.wakeups is not None:
                group.create_task(self.wakeups.run(stop), name="relay-wakeups")


async def serve(settings: RelaySettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    return await run(settings, stop)


@contextlib.asynccontextmanager
async def open_relay(
    settings: RelaySettings, *, metrics: Metrics | None = None, heartbeat: Heartbeat | None = None
) -> AsyncIterator[Relay]:
    """A relay with its connections (Redis, Telegram), closed on exit."""
    metrics = metrics or Metrics("relay")
    redis = redis_client(settings)
    # The readers' long BLOCKs need a socket timeout above them (DESIGN-NOTES).
    blocking = redis_client(settings, blocking=True)
    outbound = TelegramOutbound(
        TelegramClient.from_settings(settings),
        redis,
        FloodBudget.from_settings(settings),
        metrics=metrics,
        buttons_ttl_s=settings.po_buttons_ttl_s,
        fetch_allow=settings.files_fetch_allow,
        rich_messages=settings.rich_messages,
    )
    # Asked only when waking an idle user whose session expired (is the user still known?).
    api = ApiClient(settings.api_url, settings.internal_api_key)
    try:
        async with api:
            yield Relay(
                settings, redis, blocking, outbound, metrics=metrics, heartbeat=heartbeat, users=api
            )
    finally:
        await outbound.close()
        for client in (redis, blocking):
            await client.aclose()


async def run(settings: RelaySettings, stop: asyncio.Event) -> int:
    """The relay until ``stop`` is set; the process's exit status."""
    if (redis_safety := await check_redis(settings)).refused:
        return EXIT_CONFIG
    metrics = Metrics("relay")
    # The lease loop turns every LEASE_TICK_S whatever the traffic.
    heartbeat = Heartbeat(stale_after_s=max(30.0, 10 * settings.lease_tick_s))
    async with (
        serve_process_health(
            settings, metrics=metrics, heartbeat=heartbeat, warnings=redis_safety.health_warnings
        ),
        open_relay(settings, metrics=metrics, heartbeat=heartbeat) as relay,
    ):
        # Everything imported and built so far lives as long as the process:
        # frozen, a full collection no longer scans it (fewer, shorter pauses).
        gc.collect()
        gc.freeze()
        log.info("relay_started", relay=relay.identity, partitions=keys.PARTITIONS)
        status = 0
        try:
            await relay.run(stop)
        except Exception:
            log.exception("relay_failed", relay=relay.identity)
            status = 1
    log.info("relay_stopped", relay=relay.identity, status=status)
    return status
