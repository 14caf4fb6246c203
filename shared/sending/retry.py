"""Which of Telegram's answers are tried again, and how soon.

429s are waited out in full (the flood budget's pause) and not counted;
5xx, network errors and undecodable answers are tried again after a
backoff, at most ``RetryPolicy.attempts`` tries in all; a 403 stops the
message; "can't parse entities" is sent again as plain text; any other 4xx
is refused for good, except "message is not modified" on an edit, which is
success.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from shared.backoff import backoff_delay
from shared.metrics import RetryReason
from shared.sending.pieces import Piece
from shared.telegram import (
    BadRequest,
    DecodeError,
    Forbidden,
    NetworkError,
    ServerError,
    TelegramError,
)

_CANT_PARSE: Final = "can't parse entities"
_NOT_MODIFIED: Final = "message is not modified"
_TRANSIENT: Final = (ServerError, NetworkError, DecodeError)


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Backoff for 5xx and network errors: ``attempts`` tries in all."""

    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 10.0

    def backoff(self, failures: int) -> float:
        """Delay after the ``failures``-th failure (:func:`shared.backoff.backoff_delay`)."""
        return backoff_delay(failures, first_s=self.base_s, cap_s=self.cap_s)


RECORD_RETRY: Final = RetryPolicy(attempts=3, base_s=0.1, cap_s=1.0)
"""Redis writes after Telegram accepted a part (redis-py retries connection errors too)."""


class Step(enum.Enum):
    """What to do after an error answer."""

    PLAIN = enum.auto()
    UNCHANGED = enum.auto()
    BLOCKED = enum.auto()
    BACK_OFF = enum.auto()
    GIVE_UP = enum.auto()


def classify(exc: TelegramError, piece: Piece) -> Step:
    """The step after Telegram answered ``piece`` with ``exc`` (not a 429: that is a pause)."""
    if isinstance(exc, Forbidden):
        return Step.BLOCKED
    if isinstance(exc, BadRequest):
        description = exc.description.lower()
        if _CANT_PARSE in description and piece.parse_mode is not None:
            return Step.PLAIN
        if _NOT_MODIFIED in description:
            return Step.UNCHANGED
        return Step.GIVE_UP
    if isinstance(exc, _TRANSIENT):
        return Step.BACK_OFF
    return Step.GIVE_UP


def retry_reason(exc: TelegramError) -> RetryReason:
    """The metrics label of a retry after ``exc`` (a :data:`Step.BACK_OFF` error)."""
    if isinstance(exc, NetworkError):
        return "network"
    if isinstance(exc, DecodeError):
        return "bad_response"
    return "server_error"


def describe(exc: TelegramError) -> str:
    """The error for a log line: its type and description (no token, no text, no body)."""
    return f"{type(exc).__name__}: {exc}"
