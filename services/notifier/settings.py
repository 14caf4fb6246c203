from __future__ import annotations

import os
import socket

import msgspec

from shared.settings import BaseSettings


def _default_name() -> str:
    return f"notifier-{socket.gethostname()}-{os.getpid()}"


class NotifierSettings(BaseSettings, kw_only=True, frozen=True):
    notifier_name: str = msgspec.field(default_factory=_default_name)
    """This notifier's consumer name: unique per live process, and the same
    across restarts of one replica, so a restart resumes its own pending results."""
    api_timeout_s: float = 5.0
    admins_cache_s: float = 60.0
    notifier_retry_after_s: float = 30.0
    """How long a result that could not reach every admin waits before a retry;
    also how long a dead replica's results wait before another takes them."""


Settings = NotifierSettings
