"""Webhook mode: Telegram POSTs each update; the answer's status is the confirmation.

aiogram's ``SimpleRequestHandler`` is not used: in the background it
answers before handling (a crash loses the update), and in the foreground
it still moves a slow update to the background after 55 s, answers 500 to
undecodable JSON, and turns every handler error into a retry. Here:

- a request without the right ``X-Telegram-Bot-Api-Secret-Token`` gets 401
  before its body is read (constant-time comparison);
- a body that is not a JSON update is logged and answered 200: Telegram
  retries non-2xx forever, and a bad body never gets better;
- an update is answered 200 only once its chat message and its answers
  are stored in Redis; if Redis fails the answer is 503, nothing it asked
  for is sent, and Telegram delivers it again (the intake's dedupe forwards
  and answers it once, whichever replica gets it);
- with ``REDIS_MIN_REPLICAS_ACK`` N > 0, 200 needs N replicas to have
  acknowledged the store (``WAIT``); fewer in time is a 503 like a Redis
  failure, but the answers it stored are sent (the redelivery is a
  duplicate, stored and answered already, which ``WAIT``s again);
- one user's updates are stored in ``update_id`` order even when Telegram
  posts them at once to different replicas (``ordering``): each is marked
  in flight on arrival, and waits for the earlier ones before it is stored.

Replicas behind a load balancer need nothing shared but Redis. Each calls
``setWebhook`` at start (the same URL and secret, so it is idempotent) and
none deletes the webhook at stop: the others are still serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web
from redis.exceptions import RedisError

from services.ingress.courier import Courier
from services.ingress.intake import Intake, ReplicasShort
from services.ingress.ordering import UserOrder
from services.ingress.updates import UpdateProcessor
from shared.log import get_logger
from shared.settings import Secret
from shared.stopping import Stopped, until_stopped

log = get_logger(__name__)

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_BODY_BYTES: Final = 1024 * 1024
"""Telegram's updates are far smaller; aiohttp answers 413 above this."""


class WebhookHandler:
    def __init__(
        self,
        processor: UpdateProcessor,
        intake: Intake,
        courier: Courier,
        secret: Secret,
        loads: Callable[[str], Any],
        order: UserOrder,
    ) -> None:
        self._order = order
        self._processor = processor
        self._intake = intake
        self._courier = courier
        self._secret = secret.reveal().encode()
        self._loads = loads

    def application(self, path: str) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(path, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            log.warning("webhook_unauthorized", remote=request.remote)
            return web.Response(status=401, text="Unauthorized")
        raw = self._decode(await request.read())
        if raw is None:
            return web.Response(status=200)
        # Before the auth lookup, which can be slow: later updates of the same
        # user must know this one is coming.
        turn = await self._order.arrive(raw)
        try:
            batch = await self._processor.handle([raw])
            try:
                if batch:  # nothing to store (a stranger's repeat): nothing to keep in order
                    await turn.wait()
                stored = await self._intake.store(batch)
            except ReplicasShort as exc:  # stored on the master: its answers must go out
                self._courier.queue(exc.stored)
                return web.Response(status=503, text="Try again")
            except RedisError as exc:
                log.warning("webhook_intake_failed", error=type(exc).__name__, updates=len(batch))
                batch.discard()  # Telegram sends it again: it must be answered again
                return web.Response(status=503, text="Try again")
            self._courier.queue(stored)  # sent in the background from here on
            return web.Response(status=200)
        finally:
            await turn.leave()

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, self._secret)

    def _decode(self, body: bytes) -> Any | None:
        try:
            raw = self._loads(body.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            log.warning("webhook_bad_body", size=len(body), error=type(exc).__name__)
            return None
        if not isinstance(raw, dict):
            log.warning("webhook_bad_body", size=len(body), error="not_an_object")
            return None
        return raw


async def serve_webhook(
    handler: WebhookHandler,
    *,
    host: str,
    port: int,
    path: str,
    on_listening: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    """Listen on ``host:port`` until ``stop``; ``on_listening`` runs once requests can arrive."""
    runner = web.AppRunner(handler.application(path), access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("webhook_listening", host=host, port=port, path=path)
        # A SIGTERM while setWebhook is in flight must not wait for Telegram's answer.
        with contextlib.suppress(Stopped):
            await until_stopped(stop, on_listening())
            await stop.wait()
    finally:
        # Requests in flight are finished (or cut after shutdown_timeout) before we return.
        await runner.cleanup()
    log.info("webhook_stopped")
