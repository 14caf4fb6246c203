"""The sandbox's settings: where the page is served, and which Redis to use.

Not a ``BaseSettings``: the sandbox is no process of the product and needs
no token, API or Telegram URL (it makes its own fakes). It deliberately
ignores a real ``TELEGRAM_BOT_TOKEN`` in the caller's environment: the
processes it starts get the fakes' values only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import cast, get_args

import msgspec

from services.fakes.workers import Profile
from services.relay.settings import POContractName
from shared.settings import LogLevel, SettingsError


class SandboxSettings(msgspec.Struct, kw_only=True, frozen=True):
    sandbox_host: str = "127.0.0.1"
    """Where the page (and the fake Telegram behind it) listens; 0.0.0.0 to show it to others."""
    sandbox_port: int = 8080
    redis_url: str | None = None
    """An existing Redis to use; unset: a ``redis-server`` of the sandbox's own, on a free port."""
    log_level: LogLevel = "INFO"
    """For the sandbox and every process it starts."""
    sandbox_po_contract: POContractName = "seed"
    """The relays' ``PO_CONTRACT``, and the profile the fake PO speaks."""

    def __post_init__(self) -> None:
        if not 0 < self.sandbox_port < 65536:
            raise ValueError("sandbox_port: expected a port number, 1-65535")
        if self.redis_url is not None and self.redis_url.partition("://")[0] not in (
            "redis",
            "rediss",
            "unix",
        ):
            raise ValueError("redis_url: expected a redis/rediss/unix URL")

    @property
    def fake_po_profile(self) -> Profile | None:
        """The fake worker-manager's profile; None: ``po-service``, played by ``FakePOService``."""
        if self.sandbox_po_contract in get_args(Profile):
            return cast(Profile, self.sandbox_po_contract)
        return None


Settings = SandboxSettings


def load(environ: Mapping[str, str] | None = None) -> SandboxSettings:
    """Read ``SANDBOX_HOST``, ``SANDBOX_PORT``, ``REDIS_URL``, ``LOG_LEVEL`` and
    ``SANDBOX_PO_CONTRACT``."""
    environ = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for field in msgspec.structs.fields(SandboxSettings):
        value = environ.get(field.encode_name.upper(), "").strip()
        if value:
            raw[field.encode_name] = value.upper() if field.name == "log_level" else value
    try:
        return msgspec.convert(raw, SandboxSettings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(str(exc))) from None


def _explain(message: str) -> str:
    """``Expected `int`, got `str` - at `$.sandbox_port``` -> ``SANDBOX_PORT: Expected ...``."""
    reason, _, where = message.partition(" - at `$.")
    if where:
        return f"{where.rstrip('`').upper()}: {reason}"
    name, sep, rest = message.partition(": ")
    return f"{name.upper()}: {rest}" if sep else message
