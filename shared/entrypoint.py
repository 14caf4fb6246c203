"""How every process starts: settings once, logging once, then the async app.

A configuration error is one line on stderr and exit status 2, never a
traceback: operators read it in ``docker logs`` or supervisor's log.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

from shared import log
from shared.settings import BaseSettings, SettingsError, load

S = TypeVar("S", bound=BaseSettings)

EXIT_CONFIG = 2


def run(
    service: str,
    settings_cls: type[S],
    load_app: Callable[[], Callable[[S], Coroutine[Any, Any, int]]],
) -> NoReturn:
    """Load settings (exit 2 on error), configure logging, then run ``load_app()(settings)``."""
    try:
        settings = load(settings_cls)
    except SettingsError as exc:
        print(f"telegram-bot {service}: configuration error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    log.configure(
        service,
        level=settings.log_level,
        fmt=settings.log_format,
        secrets=settings.secrets(),
    )
    app = load_app()
    sys.exit(asyncio.run(app(settings)))
