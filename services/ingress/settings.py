"""The ingress's settings: how updates arrive, and how long answers are trusted.

Light on purpose (no aiogram import): the CLI loads it to report a
configuration error before the app, which takes seconds to import.
"""

from __future__ import annotations

import re
from typing import Final, Literal
from urllib.parse import urlsplit

from shared.attachments import CLOUD_DOWNLOAD_LIMIT, LOCAL_DOWNLOAD_LIMIT
from shared.settings import BaseSettings, Secret, require_not_negative, require_positive

IngressMode = Literal["polling", "webhook"]

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
CLOUD_API_HOST: Final = "api.telegram.org"
MB: Final = 1024 * 1024


class IngressSettings(BaseSettings, kw_only=True, frozen=True):
    api_timeout_s: float = 5.0
    polling_timeout_s: int = 30
    ingress_mode: IngressMode = "polling"
    webhook_url: str | None = None
    """The public HTTPS URL Telegram posts updates to; its path is the one served."""
    webhook_secret: Secret | None = None
    """Telegram's ``secret_token``: 1-256 of ``A-Za-z0-9_-``; never logged."""
    webhook_listen: str = "0.0.0.0:8080"
    auth_cache_ttl_s: float = 60.0
    """How long a known user is trusted without asking the API again."""
    auth_cache_unknown_ttl_s: float = 10.0
    """How long a stranger stays rejected without asking again; also the
    shortest gap between two rejection messages to one stranger."""
    auth_cache_size: int = 10_000
    auth_rejections_per_s: float = 1.0
    """Rejection messages per second for all strangers together (burst of 10)."""
    intake_dedupe_ttl_s: int = 24 * 60 * 60
    ingress_alive_ttl_s: float = 15.0
    """TTL of ``bot:ingress:alive:{instance}``: this long after a crash, others take its answers."""
    ingress_alive_refresh_s: float = 5.0
    """How often the alive key is set again; less than its TTL."""
    answers_scan_s: float = 5.0
    """How often ``bot:answers`` is scanned for answers whose owner is gone."""
    answers_max_age_s: float = 3600.0
    """Answers older than this when taken over are dropped (``answer_expired``)."""
    webhook_order_wait_s: float = 10.0
    """Webhook mode: how long an update waits for an earlier one of the same user,
    still in flight on any replica, to be stored first; past it, it is stored anyway
    (logged). Also how long an update counts as in flight (twice this) if its replica
    dies. Above ``API_TIMEOUT_S``, so a slow auth is waited out."""

    incoming_backlog_max: int = 100_000
    """Entries a ``bot:incoming:{p}`` stream may hold; at it, updates are not confirmed."""
    files_download_limit_mb: int | None = None
    """The Bot API's download limit (MB): a user's file above it reaches the PO marked
    ``too_large``, and the user is told. Unset: see ``files_download_limit``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(
            self,
            "api_timeout_s",
            "polling_timeout_s",
            "auth_cache_size",
            "auth_rejections_per_s",
            "intake_dedupe_ttl_s",
            "ingress_alive_ttl_s",
            "ingress_alive_refresh_s",
            "answers_scan_s",
            "answers_max_age_s",
            "webhook_order_wait_s",
            "incoming_backlog_max",
        )
        if self.files_download_limit_mb is not None:
            require_positive(self, "files_download_limit_mb")
        require_not_negative(self, "auth_cache_ttl_s", "auth_cache_unknown_ttl_s")
        if self.ingress_alive_refresh_s >= self.ingress_alive_ttl_s:
            raise ValueError("ingress_alive_refresh_s: must be less than INGRESS_ALIVE_TTL_S")
        listen_address(self.webhook_listen)  # raises when malformed
        if self.webhook_secret is not None and not _SECRET_TOKEN.fullmatch(
            self.webhook_secret.reveal()
        ):
            # The value is not echoed: it is a secret.
            raise ValueError("webhook_secret: expected 1-256 characters of A-Z, a-z, 0-9, _ and -")
        if self.webhook_url is not None:
            _require_https_or_http(self.webhook_url)
        if self.ingress_mode == "webhook":
            if not self.webhook_url:
                raise ValueError("webhook_url: required when INGRESS_MODE=webhook")
            if self.webhook_secret is None:
                raise ValueError("webhook_secret: required when INGRESS_MODE=webhook")

    @property
    def webhook_path(self) -> str:
        """The path of ``WEBHOOK_URL``: what the webhook server answers on."""
        url = self.webhook_url or ""
        _scheme, _sep, rest = url.partition("://")
        _host, slash, path = rest.partition("/")
        return ("/" + path.split("?", 1)[0]) if slash else "/"

    @property
    def files_download_limit(self) -> int:
        """The largest file (bytes) the Bot API at ``TELEGRAM_API_URL`` lets the bot download.

        ``FILES_DOWNLOAD_LIMIT_MB`` when set; otherwise 20 MB when the URL's host is
        ``api.telegram.org`` (the cloud Bot API), and 2,000 MB for any other host: a
        self-hosted Bot API server (``--local``). A proxy in front of the cloud API
        needs ``FILES_DOWNLOAD_LIMIT_MB=20``.
        """
        if self.files_download_limit_mb is not None:
            return self.files_download_limit_mb * MB
        cloud = urlsplit(self.telegram_api_url).hostname == CLOUD_API_HOST
        return CLOUD_DOWNLOAD_LIMIT if cloud else LOCAL_DOWNLOAD_LIMIT


def listen_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::]:8080`` for IPv6) as a pair; ``ValueError`` naming the variable."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("webhook_listen: expected host:port, such as 0.0.0.0:8080")
    return host, int(port)


def _require_https_or_http(url: str) -> None:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https") or not rest:
        raise ValueError("webhook_url: expected an https URL")


Settings = IngressSettings
