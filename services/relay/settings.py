from __future__ import annotations

import os
import socket

import msgspec

from shared.settings import BaseSettings


def _default_name() -> str:
    return f"relay-{socket.gethostname()}-{os.getpid()}"


class RelaySettings(BaseSettings, kw_only=True, frozen=True):
    relay_name: str = msgspec.field(default_factory=_default_name)
    """This relay's consumer name; unique per live process."""
    po_instructions: str = "You are the user's Product Owner."
    po_allowed_commands: tuple[str, ...] = ("*",)


Settings = RelaySettings
