"""``/healthz`` and ``/metrics`` on ``METRICS_PORT``, served by every process.

``serve_health`` runs a small aiohttp server beside the process's work;
``serve_process_health`` is what a serve function uses, with the checks
every process has (Redis, through a client of its own, and the loop)::

    metrics = Metrics("relay")
    heartbeat = Heartbeat(stale_after_s=30)
    async with serve_process_health(settings, metrics=metrics, heartbeat=heartbeat):
        ...  # the main loop calls heartbeat.beat() on every turn

``GET /healthz`` runs every check at once, each bounded by
``check_timeout_s``, and answers 200 when all pass, 503 when any returns
false, raises or times out. The body is a small JSON object naming each
check's outcome; an error is named by its type only, never its message,
which could carry a URL with a password. Warnings, facts found at start
that do not make a process unhealthy (a Redis that may evict keys:
``shared.redis_check``), are listed under ``warnings`` when there are any;
the status stays 200. ``GET /metrics`` is the
Prometheus text format of ``metrics`` (404 when there is none).

Port 0 serves nothing: several processes often share one host (a shell,
the sandbox, the tests), so the settings default to it and the deployment
files choose the ports. The server listens on all interfaces (``0.0.0.0``),
as a container's healthcheck and a scraper in the next container need.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import redis.asyncio as aioredis
from aiohttp import web

from shared.connections import redis_client
from shared.log import get_logger
from shared.metrics import CONTENT_TYPE, Metrics
from shared.settings import BaseSettings

log = get_logger(__name__)

Check = Callable[[], Awaitable[bool]]
"""Healthy when it returns true; false, an exception or a timeout make it fail."""
Warnings = Mapping[str, Sequence[str]]
"""Shown by ``/healthz`` without failing it: a name, and what is wrong there."""

DEFAULT_HOST: Final = "0.0.0.0"
CHECK_TIMEOUT_S: Final = 2.0
"""Under the 3 s the deployment files' healthcheck waits for an answer."""
OK: Final = "ok"


class Heartbeat:
    """Proof that a loop is turning: the loop calls ``beat``; stale ``stale_after_s`` later.

    Fresh when made, so a process has ``stale_after_s`` to reach its first turn.
    """

    def __init__(
        self, stale_after_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not stale_after_s > 0:
            raise ValueError("stale_after_s: must be positive")
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    @property
    def age_s(self) -> float:
        """Seconds since the last beat."""
        return self._clock() - self._last

    @property
    def fresh(self) -> bool:
        return self.age_s <= self.stale_after_s

    async def check(self) -> bool:
        """A ``Check``: whether the loop beat within ``stale_after_s``."""
        return self.fresh


def redis_check(client: aioredis.Redis) -> Check:
    """A ``Check`` that Redis answers ``PING`` (bounded by the server's ``check_timeout_s``)."""

    async def ping() -> bool:
        return bool(await client.ping())

    return ping


@dataclass(frozen=True)
class Report:
    """What ``/healthz`` answers: every check's outcome, ``ok`` or why not."""

    checks: Mapping[str, str]
    warnings: Warnings = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return all(outcome == OK for outcome in self.checks.values())

    @property
    def status(self) -> int:
        return 200 if self.healthy else 503

    def body(self) -> dict[str, object]:
        failed = sorted(name for name, outcome in self.checks.items() if outcome != OK)
        body: dict[str, object] = {
            "status": "ok" if self.healthy else "unavailable",
            "failed": failed,
            "checks": dict(self.checks),
        }
        if self.warnings:
            body["warnings"] = {name: list(found) for name, found in self.warnings.items()}
        return body


async def run_checks(
    checks: Mapping[str, Check],
    timeout_s: float = CHECK_TIMEOUT_S,
    warnings: Warnings | None = None,
) -> Report:
    """Every check at once, each within ``timeout_s``; ``warnings`` passed on as they are."""
    names = list(checks)
    outcomes = await asyncio.gather(*(_outcome(checks[name], timeout_s) for name in names))
    return Report(dict(zip(names, outcomes, strict=True)), dict(warnings or {}))


async def _outcome(check: Check, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            passed = await check()
    except TimeoutError:
        return "timeout"
    except Exception as exc:
        # The type only: a message can carry a host, a URL or a password.
        return f"error: {type(exc).__name__}"
    return OK if passed else "failed"


@dataclass(frozen=True)
class HealthServer:
    """A running health server; ``port`` is the one it listens on."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"


def application(
    checks: Mapping[str, Check],
    metrics: Metrics | None = None,
    *,
    check_timeout_s: float = CHECK_TIMEOUT_S,
    warnings: Warnings | None = None,
) -> web.Application:
    """The aiohttp app: ``GET /healthz`` and ``GET /metrics``."""

    async def healthz(_request: web.Request) -> web.Response:
        report = await run_checks(checks, check_timeout_s, warnings)
        if not report.healthy:
            log.warning("health_check_failed", checks=dict(report.checks))
        return web.json_response(
            report.body(), status=report.status, headers={"Cache-Control": "no-store"}
        )

    async def metrics_page(_request: web.Request) -> web.Response:
        if metrics is None:
            raise web.HTTPNotFound()
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app


@contextlib.asynccontextmanager
async def serve_health(
    port: int,
    *,
    checks: Mapping[str, Check],
    metrics: Metrics | None = None,
    host: str = DEFAULT_HOST,
    check_timeout_s: float = CHECK_TIMEOUT_S,
    warnings: Warnings | None = None,
) -> AsyncIterator[HealthServer | None]:
    """Serve ``/healthz`` and ``/metrics`` on ``host:port`` inside the block; ``None`` for port 0.

    A port already taken raises ``OSError`` on entry: two processes must not
    answer for each other.
    """
    if port == 0:
        yield None
        return
    # No access log: a healthcheck every few seconds would drown the real lines.
    runner = web.AppRunner(
        application(checks, metrics, check_timeout_s=check_timeout_s, warnings=warnings),
        access_log=None,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            log.error("health_port_unavailable", host=host, port=port, error=exc.strerror)
            raise
        log.info("health_listening", host=host, port=port)
        yield HealthServer(host, port)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve_process_health(
    settings: BaseSettings,
    *,
    metrics: Metrics,
    heartbeat: Heartbeat | None,
    warnings: Warnings | None = None,
) -> AsyncIterator[HealthServer | None]:
    """``/healthz`` and ``/metrics`` on ``METRICS_PORT`` for a process; nothing for port 0.

    Checks ``redis`` (``PING`` to ``REDIS_URL``) and, when there is a
    ``heartbeat``, ``loop``. The ping has a client of its own: it never
    waits behind the process's work for a pooled connection, and a ping cut
    short by the check's timeout closes only its own connection.
    ``warnings``: what the process found at start, such as
    ``RedisSafety.health_warnings`` (``shared.redis_check``).
    """
    if settings.metrics_port == 0:
        yield None
        return
    redis = redis_client(settings)
    checks: dict[str, Check] = {"redis": redis_check(redis)}
    if heartbeat is not None:
        checks["loop"] = heartbeat.check
    try:
        async with serve_health(
            settings.metrics_port, checks=checks, metrics=metrics, warnings=warnings
        ) as server:
            yield server
    finally:
        await redis.aclose()
