"""The ``files`` entry point: serve file links on ``FILES_LISTEN`` until SIGTERM.

Stateless (no Redis, nothing kept between requests): every request brings
its signed link and is served from the Bot API on its own, so any number
of replicas can run behind one address. ``/healthz`` and ``/metrics`` are on
``METRICS_PORT`` as for every process; health is "the file server is
listening" (Telegram being down is a 502 per request, not a reason to
restart the process).
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web

from services.files.metrics import FilesMetrics
from services.files.serving import FileLinks
from services.files.settings import FilesSettings, files_listen_address
from services.files.upstream import BotFiles
from shared.health import serve_health
from shared.log import get_logger
from shared.metrics import Metrics
from shared.stopping import install_stop_signals

log = get_logger(__name__)

EXIT_LISTEN_FAILED: Final = 4
SHUTDOWN_GRACE_S: Final = 10.0
"""On SIGTERM, how long files being streamed get to finish (under the deployments' 15 s)."""


async def serve(settings: FilesSettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    metrics = Metrics("files")
    files = BotFiles(
        settings.telegram_bot_token,
        settings.telegram_api_url,
        timeout_s=settings.files_upstream_timeout_s,
    )
    links = FileLinks(settings.signing_key, files, FilesMetrics(metrics))
    app = web.Application()
    app.router.add_routes(links.routes())
    # No access log: it would print every link, whose signature is a credential.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
    host, port = files_listen_address(settings.files_listen)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            log.error("files_port_unavailable", host=host, port=port, error=exc.strerror)
            return EXIT_LISTEN_FAILED
        log.info("files_started", host=host, port=port)

        async def listening() -> bool:
            return bool(runner.addresses)

        async with serve_health(
            settings.metrics_port, checks={"listening": listening}, metrics=metrics
        ):
            await stop.wait()
    finally:
        await runner.cleanup()
        await files.close()
    log.info("files_stopped")
    return 0
