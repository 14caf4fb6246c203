"""Settings: one typed object per process, read from the environment once at start.

Each field's environment variable is its name in upper case. A service
subclasses ``BaseSettings`` with its own fields and calls ``load`` once in its
entry point; nothing else reads ``os.environ``. A missing or malformed
variable raises ``SettingsError`` naming it; the entry points turn that into
one line on stderr and exit status 2.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_origin

import msgspec

from shared import i18n
from shared.file_links import MIN_KEY_BYTES

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["json", "console"]
POContractName = Literal["seed", "worker-streams", "po-service"]
"""``PO_CONTRACT``: which PO side the bot speaks (CONTRACTS.md, "three contract profiles");
the relay and the notifier read it."""


class Secret:
    """A value that must never be printed: its repr and str hide it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class BaseSettings(msgspec.Struct, kw_only=True, frozen=True):
    """What every process reads. These names are part of the product."""

    telegram_bot_token: Secret
    telegram_api_url: str = "https://api.telegram.org"
    api_url: str = "http://api:8000"
    internal_api_key: Secret | None = None
    redis_url: str = "redis://localhost:6379/0"
    redis_sentinels: tuple[str, ...] = ()
    """``host:port`` of each Sentinel, comma-separated; set: the master is found through
    them (``shared.connections``) and ``REDIS_URL`` gives only the db number, the
    password and the options, its host and port unused. Empty: ``REDIS_URL`` as is."""
    redis_sentinel_master: str = "mymaster"
    """The name the Sentinels monitor the master under."""
    redis_sentinel_password: Secret | None = None
    """The Sentinels' own password (their ``requirepass``), if they have one."""
    redis_require_safe: bool = False
    """Refuse to start on a Redis whose settings break the guarantees (eviction,
    no AOF, an fsync other than ``always``: ``shared.redis_check``); false: warn."""
    redis_min_replicas_ack: int = 0
    """Replicas that must hold an update's write (``WAIT``) before the ingress confirms
    it to Telegram; 0: confirmed once the master has it (replication stays asynchronous).
    Covers the ingress's intake only so far (docs/ARCHITECTURE.md, "Replica
    acknowledgement")."""
    redis_wait_timeout_ms: int = 500
    """How long that ``WAIT`` may take; fewer replicas by then: the update is not confirmed
    and Telegram sends it again."""
    admin_telegram_ids: tuple[int, ...] = ()
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "json"
    telegram_rate_global_per_s: float = 30.0
    telegram_rate_chat_per_s: float = 1.0
    metrics_port: int = 0
    """Where ``/healthz`` and ``/metrics`` are served (on 0.0.0.0); 0: not served.

    Off by default because several processes often share one host (a shell,
    the sandbox, the tests); the image sets 9100, supervisord one port per
    program (README, "Logs and metrics")."""
    files_signing_key: Secret | None = None
    """The HMAC key of the file links the PO gets (``shared.file_links``), at least 32
    bytes; the ingress signs, the ``files`` process checks. Unset: files are not passed on."""
    files_public_url: str = "http://localhost:8081"
    """Where the PO reaches the ``files`` process: the base of every file link."""
    files_link_ttl_s: int = 24 * 60 * 60
    """How long a file link works after the message was received."""
    access_requests: bool = True
    """Strangers may ask for access with a button; admins approve with one tap (ingress,
    notifier). False: a stranger is only told the rejection, as before."""
    access_request_ttl_s: int = 7 * 24 * 60 * 60
    """A request nobody decided expires this long after it was made."""
    access_request_cooldown_s: int = 7 * 24 * 60 * 60
    """A denied stranger may ask again only this long after the denial."""
    access_requests_per_hour: int = 20
    """New requests' cards sent to admins per hour in all; the rest wait, in order."""
    rich_messages: bool = False
    """PO replies go as Bot API 10.1 rich messages (``sendRichMessage``: real tables and
    headings), falling back to the HTML form on any refusal. Off: some Telegram clients
    show rich messages as "not supported" (README)."""
    default_language: str = "ru"
    """The language of a user whose Telegram ``language_code`` has no catalogue (or none is
    known), and of the admins' messages: one of ``shared/locales/*``."""

    def __post_init__(self) -> None:
        _require_url("telegram_api_url", self.telegram_api_url, ("http", "https"))
        _require_url("api_url", self.api_url, ("http", "https"))
        _require_url("redis_url", self.redis_url, ("redis", "rediss", "unix"))
        sentinel_addresses(self.redis_sentinels)
        if not self.redis_sentinel_master:
            raise ValueError("redis_sentinel_master: must not be empty")
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", self.telegram_bot_token.reveal()):
            raise ValueError("TELEGRAM_BOT_TOKEN: expected the form <bot id>:<secret>")
        require_not_negative(self, "redis_min_replicas_ack")
        require_positive(self, "redis_wait_timeout_ms")  # WAIT with 0 would block for ever
        if not 0 <= self.metrics_port <= 65535:
            raise ValueError("metrics_port: expected a port, 1-65535, or 0 for none")
        for name in self.__struct_fields__:
            # "inf" and "nan" parse as floats; no duration or rate here means either.
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name}: expected a finite number")
        # The flood budget's own limits, named by their variables (checked again
        # when the budget is built, too late for one clear line at start).
        if not self.telegram_rate_global_per_s >= 1:
            raise ValueError("telegram_rate_global_per_s: must be at least 1")
        require_positive(
            self,
            "telegram_rate_chat_per_s",
            "files_link_ttl_s",
            "access_request_ttl_s",
            "access_request_cooldown_s",
            "access_requests_per_hour",
        )
        _require_url("files_public_url", self.files_public_url, ("http", "https"))
        if self.default_language not in i18n.languages():
            known = ", ".join(i18n.languages())
            raise ValueError(f"default_language: expected one of {known}")
        key = self.files_signing_key
        if key is not None and len(key.reveal().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"files_signing_key: must be at least {MIN_KEY_BYTES} bytes")

    @property
    def files_key(self) -> bytes | None:
        """``FILES_SIGNING_KEY`` as the HMAC key; None: unset."""
        key = self.files_signing_key
        return key.reveal().encode() if key is not None else None

    def secrets(self) -> list[str]:
        """Every secret value, so logging can scrub them wherever they appear."""
        found = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, Secret) and value.reveal():
                found.append(value.reveal())
        return found


def sentinel_addresses(entries: tuple[str, ...]) -> list[tuple[str, int]]:
    """``REDIS_SENTINELS``' entries as (host, port) pairs; a ``ValueError`` for a bad one."""
    addresses = []
    for entry in entries:
        host, sep, port = entry.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")  # [::1]:26379
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ValueError(f"redis_sentinels: expected host:port, got {entry!r}")
        addresses.append((host, int(port)))
    return addresses


def require_positive(settings: object, *names: str) -> None:
    """Refuse the first named field that is not above zero: ``name: must be positive``.

    For a service's ``__post_init__``: the ``ValueError`` becomes a
    ``SettingsError`` naming the variable, one line at start.
    """
    for name in names:
        if not getattr(settings, name) > 0:  # "not >" refuses NaN too
            raise ValueError(f"{name}: must be positive")


def require_not_negative(settings: object, *names: str) -> None:
    """Refuse the first named field below zero: ``name: must not be negative``."""
    for name in names:
        if not getattr(settings, name) >= 0:
            raise ValueError(f"{name}: must not be negative")


class SettingsError(Exception):
    """A variable is missing or malformed; the message names it."""


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Build ``cls`` from the environment, or raise ``SettingsError`` naming the variable."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        value = environ.get(field.encode_name.upper())
        if value is None or value == "":
            continue
        raw[field.encode_name] = _prepare(field.type, value.strip())
    try:
        return msgspec.convert(raw, cls, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(str(exc))) from None


def _prepare(type_: Any, value: str) -> Any:
    """Split comma lists and normalise enum-like case; msgspec does the rest."""
    if get_origin(type_) in (tuple, list):
        return [item.strip() for item in value.split(",") if item.strip()]
    if type_ is LogLevel:
        return value.upper()
    if type_ is LogFormat:
        return value.lower()
    return value


def _dec_hook(type_: type[Any], value: Any) -> Any:
    if type_ is Secret and isinstance(value, str):
        return Secret(value)
    raise NotImplementedError(f"Expected `{type_.__name__}`")


def _explain(message: str) -> str:
    """Turn msgspec's ``... - at `$.field[0]``` into ``FIELD: ...``."""
    if match := re.search(r"^(.*?) - at `\$\.(\w+)", message):
        reason, name = match.groups()
        return f"{name.upper()}: {reason.rstrip('.')}"
    if match := re.search(r"missing required field `(\w+)`", message):
        return f"{match.group(1).upper()}: required but not set"
    if match := re.match(r"(\w+): (.*)", message):
        return f"{match.group(1).upper()}: {match.group(2)}"
    return message


def _require_url(name: str, value: str, schemes: tuple[str, ...]) -> None:
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in schemes or not rest:
        # The value is not echoed: a URL can carry a password.
        raise ValueError(f"{name}: expected a {'/'.join(schemes)} URL")
