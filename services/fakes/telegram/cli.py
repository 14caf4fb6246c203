"""Run the fake standalone: ``python -m services.fakes.telegram --port 8081``."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

from .fake import DEFAULT_TOKEN, FakeTelegram


async def serve(host: str = "127.0.0.1", port: int = 8081, token: str = DEFAULT_TOKEN) -> None:
    """Run a fake until cancelled (the sandbox's entry point)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with FakeTelegram(host=host, port=port, token=token) as fake:
        print(f"fake Telegram Bot API on {fake.url} token {fake.token}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a fake Telegram Bot API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.token))
