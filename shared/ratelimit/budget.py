"""The flood budget: Telegram's limits as this bot spends them, and as the scripts read them."""

from __future__ import annotations

import math

import msgspec

from shared.settings import BaseSettings


class FloodBudget(msgspec.Struct, frozen=True, kw_only=True):
    """Telegram's limits as this bot spends them (docs/ARCHITECTURE.md, "Flood budget")."""

    global_per_s: float = 30.0
    chat_per_s: float = 1.0
    chat_burst: int = 2
    group_limit: int = 20
    group_window_s: float = 60.0
    safety: float = 0.97
    """Fraction of the global rate used (and group window stretch), for jitter."""
    preview_group_reserve: int = 5
    """Sends a group's window must keep for final messages before a preview goes."""
    global_pause_chats: int = 2
    global_pause_window_s: float = 2.0
    global_window_s: float = 1.0
    """The window Telegram's global limit is counted over: ``global_per_s`` per window."""
    in_flight_s: float = 10.0
    """How long a request with no answer (its process died) counts in the window."""
    poll_s: float = 0.005
    """How soon to look again when the window is full of requests still in flight."""

    def __post_init__(self) -> None:
        positive = {
            "global_per_s": self.global_per_s,
            "chat_per_s": self.chat_per_s,
            "group_window_s": self.group_window_s,
            "global_pause_window_s": self.global_pause_window_s,
            "global_window_s": self.global_window_s,
            "in_flight_s": self.in_flight_s,
            "poll_s": self.poll_s,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.global_limit < 1:
            raise ValueError("global_per_s * global_window_s must be >= 1")
        if self.chat_burst < 1 or self.group_limit < 1 or self.global_pause_chats < 1:
            raise ValueError("chat_burst, group_limit and global_pause_chats must be >= 1")
        if not 0 < self.safety <= 1:
            raise ValueError(f"safety must be in (0, 1], got {self.safety}")

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> FloodBudget:
        """The budget of ``TELEGRAM_RATE_GLOBAL_PER_S`` and ``TELEGRAM_RATE_CHAT_PER_S``."""
        return cls(
            global_per_s=settings.telegram_rate_global_per_s,
            chat_per_s=settings.telegram_rate_chat_per_s,
        )

    @property
    def global_limit(self) -> int:
        """Requests allowed in any global window (30 in 1 s by default)."""
        return math.floor(self.global_per_s * self.global_window_s + 1e-9)

    @property
    def global_interval_ms(self) -> float:
        return 1000.0 / (self.global_per_s * self.safety)

    @property
    def chat_interval_ms(self) -> float:
        return 1000.0 / self.chat_per_s

    @property
    def chat_tolerance_ms(self) -> float:
        return (self.chat_burst - 1) * self.chat_interval_ms

    @property
    def group_window_ms(self) -> float:
        """A group's window for reservations, stretched by ``1 / safety``."""
        return self.group_window_s * 1000.0 / self.safety


class ScriptBudget(msgspec.Struct, frozen=True, kw_only=True):
    """The budget as the Lua scripts read it: one JSON argument, times in ms.

    Field names are the ones the scripts use (``budget.chat_interval_ms``).
    """

    global_interval_ms: float
    """The pace: one global slot per interval (``safety`` applied)."""
    global_limit: int
    global_window_ms: float
    """The window Telegram's global limit is counted over, by answer times."""
    chat_interval_ms: float
    chat_tolerance_ms: float
    """How far a chat's bucket may run ahead: its burst."""
    group_limit: int
    group_slot_window_ms: float
    """A group's window for reserved slots (stretched by ``1 / safety``)."""
    group_window_ms: float
    """A group's window by answer times (Telegram's, unstretched)."""
    preview_group_reserve: int
    in_flight_ms: float
    poll_ms: float

    @classmethod
    def of(cls, budget: FloodBudget) -> ScriptBudget:
        return cls(
            global_interval_ms=budget.global_interval_ms,
            global_limit=budget.global_limit,
            global_window_ms=budget.global_window_s * 1000.0,
            chat_interval_ms=budget.chat_interval_ms,
            chat_tolerance_ms=budget.chat_tolerance_ms,
            group_limit=budget.group_limit,
            group_slot_window_ms=budget.group_window_ms,
            group_window_ms=budget.group_window_s * 1000.0,
            preview_group_reserve=budget.preview_group_reserve,
            in_flight_ms=budget.in_flight_s * 1000.0,
            poll_ms=budget.poll_s * 1000.0,
        )

    def encode(self) -> bytes:
        """The JSON the scripts decode with ``cjson.decode(ARGV[1])``."""
        return msgspec.json.encode(self)


def is_group(chat_id: int) -> bool:
    """Group and supergroup chats have negative ids; they get the 20-per-minute window."""
    return chat_id < 0
