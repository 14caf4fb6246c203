"""What became of one message: the answer every send, edit and preview gives back."""

from __future__ import annotations

import enum

import msgspec


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    BLOCKED = "blocked"
    """The user blocked the bot (403); nothing more was tried."""
    FAILED = "failed"
    SKIPPED = "skipped"
    """Best-effort only (previews): no budget free right now, nothing sent."""


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one message.

    ``message_ids`` holds the parts Telegram accepted, in order, including
    parts recorded under the key by an earlier attempt; ``resumed_at`` is the
    index of the first part this call had to send (``len(parts)`` when all
    were sent before).
    """

    outcome: Outcome
    message_ids: tuple[int, ...] = ()
    resumed_at: int = 0
    error: str | None = None
    transient: bool = False
    """Failed because Telegram was unreachable or failing (5xx, network, an
    undecodable answer) through every retry: trying later can work."""
    error_code: int | None = None
    """Telegram's ``error_code`` of the answer that stopped it (403, 400, 401...);
    None when Telegram gave none (network, undecodable answer)."""

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED
