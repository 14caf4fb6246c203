"""The relay's settings (environment variables; see the README's table)."""

from __future__ import annotations

import os
import socket
from typing import Literal

import msgspec

from shared.settings import BaseSettings, require_not_negative, require_positive

POContractName = Literal["seed", "worker-streams", "po-service"]


def _default_name() -> str:
    return f"relay-{socket.gethostname()}-{os.getpid()}"


class RelaySettings(BaseSettings, kw_only=True, frozen=True):
    relay_name: str = msgspec.field(default_factory=_default_name)
    """For logs and humans; the lease identity adds a random suffix per process."""
    po_contract: POContractName = "seed"
    """Which PO side the relay speaks (CONTRACTS.md, "three contract profiles")."""
    po_instructions: str = "You are the user's Product Owner."
    po_allowed_commands: tuple[str, ...] = ("*",)
    po_start_timeout_s: float = 120.0
    """A PO not RUNNING this long after its message was forwarded: the user is told."""
    po_reply_timeout_s: float = 120.0
    """``po-service``: an answer not there this long after the message went: the user is told
    (once), and the answer is still awaited for ``PO_LATE_ANSWER_S`` more."""
    po_late_answer_s: float = 3600.0
    ack_reactions: bool = True
    """👀 on each message once it is in the PO's input, removed when its final reply is sent."""
    busy_policy: Literal["queue", "steer"] = "queue"
    """A message sent while the PO works: ``queue`` (read after the reply under way) or
    ``steer`` (marked ``steer: true`` for a PO that takes guidance mid-run; ``seed`` only)."""
    working_note_after_s: float = 20.0
    """A reply not begun this long after its message: "⏳ Ассистент работает…" with a stop
    button, until it comes; 0: never."""
    po_buttons_ttl_s: int = 7 * 24 * 60 * 60
    """How long the buttons under a PO's reply can be pressed (their data is kept in Redis)."""
    typing_cap_s: float = 600.0
    """"typing…" stops after this long without a reply."""
    lease_ttl_s: float = 5.0
    """A dead relay's partitions are taken over about this long after it died."""
    lease_tick_s: float = 1.0
    reply_concurrency: int = 32
    """Users whose replies are being sent at the same time, per relay."""
    reply_max_attempts: int = 8
    """A reply Telegram keeps failing on (5xx, an undecodable answer, unreachable) is given
    up after this many sends (each with the sender's own retries) ..."""
    reply_max_age_s: float = 600.0
    """... and this long since its first failed send: then the user is told and it is
    dead-lettered, and their later replies follow."""

    idle_sweep_s: float = 300.0
    """How often each relay sweeps its partitions for idle users (no session) whose PO wrote
    and who were not woken by a keyspace notification (lost, or notifications unavailable)."""
    album_window_ms: int = 800
    """An album's parts (Telegram sends each as its own update) are gathered into one PO
    message until this long passes with no new part."""
    files_fetch_allow: tuple[str, ...] = ()
    """Hosts a PO's attachment ``url`` may point at although they resolve to a loopback,
    private, link-local or metadata address (comma-separated; host or host:port)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require_not_negative(self, "working_note_after_s", "album_window_ms")
        require_positive(
            self,
            "po_start_timeout_s",
            "po_reply_timeout_s",
            "po_late_answer_s",
            "typing_cap_s",
            "lease_ttl_s",
            "lease_tick_s",
            "reply_max_age_s",
            "po_buttons_ttl_s",
            "idle_sweep_s",
        )
        if self.lease_ttl_s < 2 * self.lease_tick_s + 1:
            raise ValueError("lease_ttl_s: must be at least 2 * LEASE_TICK_S + 1")
        for name in ("reply_concurrency", "reply_max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1")


Settings = RelaySettings
