"""The ingress entry point: one dispatcher, fed by long polling or by a webhook.

``Ingress.open`` builds everything one process holds (aiogram's ``Bot`` for
receiving updates, the sender's own ``TelegramClient`` for answering, API
client, Redis, dispatcher) and ``Ingress.run`` serves until SIGTERM. Tests
and the benchmark open it in their own event loop, with their own bot and
clock, and drive it exactly as production does.

Handlers, in the order they are tried, after the auth middleware (which
runs for every update type, callback queries included): ``chat`` (private,
neither a command nor a button press: text and files to the relays, edits;
registered on the dispatcher itself, see ``chat.register``), then the
routers ``commands`` (private commands: quick commands, help, unknown commands),
``buttons`` (private, exactly a quick-action label: the command it stands
for), ``po_buttons`` (presses of the buttons a PO offered), ``callbacks``
(inline buttons: page turns, project details),
``groups`` (not a private chat: explain). Their filters do not overlap, so
the order only decides speed: the most frequent update (a chat text) is
settled first, without descending a router level.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from aiogram import Bot, Dispatcher
from aiogram.exceptions import AiogramError

from services.ingress import buttons, callbacks, chat, commands, conversation, groups, po_buttons
from services.ingress.access import AccessDesk
from services.ingress.access_setup import access_desk, access_routers
from services.ingress.attachments import FileLinks
from services.ingress.auth import REJECTION_BURST, AuthMiddleware, RateLimit, Rejections
from services.ingress.backend import IngressApi
from services.ingress.courier import Courier
from services.ingress.directory import Clock, UserDirectory
from services.ingress.intake import Intake
from services.ingress.keyboard_sessions import KeyboardSessions
from services.ingress.languages import LanguageMiddleware
from services.ingress.ordering import UserOrder
from services.ingress.polling import Poller
from services.ingress.settings import IngressSettings, listen_address
from services.ingress.status import ConversationState
from services.ingress.updates import UpdateProcessor
from services.ingress.webhook import WebhookHandler, serve_webhook
from shared.connections import redis_client, telegram_bot
from shared.entrypoint import EXIT_CONFIG
from shared.health import Heartbeat, serve_process_health
from shared.log import get_logger
from shared.metrics import Metrics
from shared.redis_check import check_redis
from shared.sending.sender import Sender
from shared.stopping import install_stop_signals
from shared.texts import DEFAULT_LANGUAGE, every_language, for_language

log = get_logger(__name__)

EXIT_WEBHOOK_FAILED: Final = 5
ANSWERS_GRACE_S: Final = 5.0
"""On the way out, how long answers still waiting get to go out (the rest stay in Redis)."""


def build_dispatcher(
    api: IngressApi,
    directory: UserDirectory,
    rejections: Rejections,
    state: ConversationState,
    metrics: Metrics | None = None,
    *,
    default_language: str = DEFAULT_LANGUAGE,
    presses: po_buttons.ButtonPresses,
    files: FileLinks | None = None,
    access: AccessDesk | None = None,
) -> Dispatcher:
    """``files``: how users' files become attachments; None: they are not passed on.
    ``access``: access requests (``ACCESS_REQUESTS``); None: strangers are only rejected."""
    # No FSM: nothing here has conversation state, and it costs time per update.
    # No outbox and no keyboards here: each update brings its own, bound to
    # its batch (``UpdateProcessor.feed``), so its answers are stored with it.
    dp = Dispatcher(
        api=api,
        state=state,
        presses=presses,
        # Replaced per update by the sender's language (``LanguageMiddleware``).
        texts=for_language(None, default_language),
        files=files,
        disable_fsm=True,
        name="ingress",
    )
    if access is not None:
        dp["access"] = access  # ACCESS_REQUESTS (``access``, ``access_admin``)
    # First: the rejection and every answer after it are in the sender's language.
    dp.update.outer_middleware(LanguageMiddleware(default_language))
    dp.update.outer_middleware(AuthMiddleware(directory, rejections, metrics, access))
    languages = every_language()
    chat.register(dp, languages, files)
    dp.include_routers(
        # Before the quick commands: their last handler takes any command left.
        conversation.router(),
        commands.router(),
        buttons.router(languages),
        # Before ``callbacks``: its last handler refuses whatever is left.
        po_buttons.router(),
        *access_routers(access),
        callbacks.router(),
        groups.router(),
    )
    return dp


@dataclass
class Ingress:
    settings: IngressSettings
    bot: Bot
    dp: Dispatcher
    processor: UpdateProcessor
    intake: Intake
    courier: Courier
    """Sends the answers ``intake`` stored (``join`` waits until what is queued went out)."""
    metrics: Metrics
    heartbeat: Heartbeat | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: IngressSettings,
        *,
        bot: Bot | None = None,
        clock: Clock = time.monotonic,
        metrics: Metrics | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> AsyncIterator[Ingress]:
        """Everything the ingress needs, closed on exit (a ``bot`` passed in stays open)."""
        own_bot = bot is None
        bot = bot if bot is not None else telegram_bot(settings)
        redis = redis_client(settings)
        # Answers go out through our own client (shared.sending), not aiogram's Bot,
        # which only receives updates (and answers callback queries).
        metrics = metrics or Metrics("ingress")
        sender = Sender.from_settings(settings, redis, metrics=metrics)
        try:
            async with IngressApi(
                settings.api_url, settings.internal_api_key, timeout=settings.api_timeout_s
            ) as api:
                directory = UserDirectory(
                    api,
                    known_ttl_s=settings.auth_cache_ttl_s,
                    unknown_ttl_s=settings.auth_cache_unknown_ttl_s,
                    max_size=settings.auth_cache_size,
                    clock=clock,
                )
                rejections = Rejections(
                    RateLimit(settings.auth_rejections_per_s, REJECTION_BURST, clock),
                    told_ttl_s=settings.auth_cache_unknown_ttl_s,
                    max_size=settings.auth_cache_size,
                    clock=clock,
                )
                courier = Courier(
                    sender,
                    alive_ttl_s=settings.ingress_alive_ttl_s,
                    alive_refresh_s=settings.ingress_alive_refresh_s,
                    scan_s=settings.answers_scan_s,
                    max_age_s=settings.answers_max_age_s,
                )
                default_texts = for_language(None, settings.default_language)
                keyboards = KeyboardSessions(default_texts, clock=clock)
                state = ConversationState(redis)
                presses = po_buttons.ButtonPresses(redis)
                desk = access_desk(settings, redis, directory)
                dp = build_dispatcher(
                    api,
                    directory,
                    rejections,
                    state,
                    metrics,
                    default_language=settings.default_language,
                    presses=presses,
                    files=FileLinks.from_settings(settings),
                    access=desk,
                )
                intake = Intake(
                    redis,
                    dedupe_ttl_s=settings.intake_dedupe_ttl_s,
                    backlog_max=settings.incoming_backlog_max,
                    metrics=metrics,
                    min_replicas_ack=settings.redis_min_replicas_ack,
                    wait_timeout_ms=settings.redis_wait_timeout_ms,
                )
                await courier.start()
                try:
                    processor = UpdateProcessor(dp, bot, courier, keyboards, metrics)
                    yield cls(settings, bot, dp, processor, intake, courier, metrics, heartbeat)
                finally:
                    await courier.close(ANSWERS_GRACE_S)
        finally:
            await sender.close()
            if own_bot:
                await bot.session.close()
            await redis.aclose()

    @property
    def allowed_updates(self) -> list[str]:
        return self.dp.resolve_used_update_types()

    async def run(self, stop: asyncio.Event) -> int:
        """Serve until ``stop``; the exit status (0, or why Telegram would not let us)."""
        log.info("ingress_started", mode=self.settings.ingress_mode, instance=self.courier.instance)
        # In the background: updates need not wait for the menu, and a SIGTERM
        # during a slow setMyCommands must not wait for its answer.
        menu = asyncio.create_task(self._register_menu(), name="command-menu")
        try:
            return await self._serve(stop)
        finally:
            if not menu.done():
                menu.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await menu

    async def _serve(self, stop: asyncio.Event) -> int:
        if self.settings.ingress_mode == "webhook":
            return await self._run_webhook(stop)
        poller = Poller(
            self.bot,
            self.processor,
            self.intake,
            self.courier,
            timeout_s=self.settings.polling_timeout_s,
            allowed_updates=self.allowed_updates,
            on_turn=self.heartbeat.beat if self.heartbeat is not None else None,
        )
        return await poller.run(stop)

    async def _register_menu(self) -> None:
        try:
            await commands.register_menus(self.bot, self.settings.default_language)
        except AiogramError as exc:
            # The menu is a convenience; failing to set it must not keep updates waiting.
            log.warning("command_menu_failed", error=type(exc).__name__)

    async def _run_webhook(self, stop: asyncio.Event) -> int:
        settings = self.settings
        secret = settings.webhook_secret
        assert secret is not None  # IngressSettings requires it in webhook mode
        # A client of its own: waits for a user's earlier updates block a connection each.
        order_redis = redis_client(settings)
        order = UserOrder(order_redis, wait_s=settings.webhook_order_wait_s)
        loads = self.bot.session.json_loads
        handler = WebhookHandler(self.processor, self.intake, self.courier, secret, loads, order)
        host, port = listen_address(settings.webhook_listen)

        async def set_webhook() -> None:
            await self.bot.set_webhook(
                url=settings.webhook_url or "",
                secret_token=secret.reveal(),
                allowed_updates=self.allowed_updates,
            )
            log.info("webhook_set", path=settings.webhook_path)

        try:
            await serve_webhook(
                handler,
                host=host,
                port=port,
                path=settings.webhook_path,
                on_listening=set_webhook,
                stop=stop,
            )
        except (AiogramError, OSError) as exc:
            log.error("webhook_failed", error=type(exc).__name__)
            return EXIT_WEBHOOK_FAILED
        finally:
            await order_redis.aclose()
        return 0


async def serve(settings: IngressSettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    if (redis_safety := await check_redis(settings)).refused:
        return EXIT_CONFIG
    metrics = Metrics("ingress")
    # Polling turns at least every POLLING_TIMEOUT_S; a webhook has no loop of its own.
    polling = settings.ingress_mode == "polling"
    heartbeat = Heartbeat(stale_after_s=3 * settings.polling_timeout_s + 60) if polling else None
    async with (
        serve_process_health(
            settings, metrics=metrics, heartbeat=heartbeat, warnings=redis_safety.health_warnings
        ),
        Ingress.open(settings, metrics=metrics, heartbeat=heartbeat) as ingress,
    ):
        # aiogram and everything built so far live as long as the process:
        # frozen, a full collection no longer scans them. Unfrozen, the first
        # one stalled every update for ~160 ms (bench.relay, whole bot).
        gc.collect()
        gc.freeze()
        status = await ingress.run(stop)
    log.info("ingress_stopped", status=status)
    return status
