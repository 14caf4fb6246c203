"""structlog, configured once per process.

JSON in production, readable in a terminal. Every event carries the service
name. Secrets are scrubbed from every event, ours and the standard-library
records of aiogram (the ingress polls with it), aiohttp and redis-py alike:
every Bot API request URL holds the bot token, and an exception message can
carry one. Loggers are configured by name: this module never imports
aiogram (the relay and the notifier must not load it).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import msgspec
import structlog

REDACTED = "***"


def _json_dumps(obj: Any, default: Any = None) -> str:
    # structlog's JSONRenderer passes ``default=``; msgspec calls it ``enc_hook``.
    return msgspec.json.encode(obj, enc_hook=default).decode()


class _Scrubber:
    """Replaces every secret value in every string of an event."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        return value

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not self._secrets:
            return event
        for key, value in event.items():
            event[key] = self.scrub(value)
        return event


def configure(
    service: str,
    *,
    level: str = "INFO",
    fmt: str = "json",
    secrets: Iterable[str] = (),
) -> None:
    """Route structlog and the standard library through one scrubbing pipeline."""

    def add_service(
        _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event.setdefault("service", service)
        return event

    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
    scrubber = _Scrubber(secrets)
    stamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    # Our own events go straight to stderr: structlog filters by level when the
    # event is made and renders it itself. Routing them through the standard
    # library (a LogRecord, a handler, a formatter per event) cost the relay
    # about a tenth of its CPU at 200 messages a second (docs/BENCHMARKS.md).
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamper,
            add_service,
            structlog.processors.format_exc_info,
            scrubber,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # The libraries' records (aiogram, aiohttp, redis-py, asyncio) take the
    # standard library's way, rendered the same and scrubbed the same.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.ExtraAdder(),
            stamper,
            add_service,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            scrubber,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log and aiogram's per-update lines are noise at INFO.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger


def debug_enabled(name: str) -> Callable[[], bool]:
    """Whether DEBUG events of logger ``name`` are kept, as a cheap call.

    Our events are filtered by ``LOG_LEVEL`` when made, the libraries' by the
    standard library's root level, set to the same (above); asking first is
    cheaper than building an event (with a user's text in it) only to drop it.
    """
    return functools.partial(logging.getLogger(name).isEnabledFor, logging.DEBUG)
