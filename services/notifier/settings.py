from __future__ import annotations

import os
import socket

import msgspec

from shared.settings import BaseSettings


def _default_name() -> str:
    return f"notifier-{socket.gethostname()}-{os.getpid()}"


class NotifierSettings(BaseSettings, kw_only=True, frozen=True):
    notifier_name: str = msgspec.field(default_factory=_default_name)
    """This notifier's consumer name; unique per live process."""
    api_timeout_s: float = 5.0


Settings = NotifierSettings
