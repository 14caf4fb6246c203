"""How long to wait before trying again: the one backoff of every retry loop.

Capped exponential with "equal jitter": the delay before retry ``n`` is
drawn uniformly from the upper half of ``min(cap_s, first_s * 2**(n-1))``.
The random half keeps processes that failed together (a Redis restart, a
Telegram outage) from coming back in lockstep; the fixed half keeps the
delay from collapsing to nothing. Each caller keeps its own numbers
(``first_s``, ``cap_s``); the loop around it (how many tries, what stops
it) stays the caller's.
"""

from __future__ import annotations

import random
from typing import Final

FIRST_S: Final = 0.1
CAP_S: Final = 5.0
_MAX_DOUBLINGS: Final = 62
"""Past this the ceiling is the cap anyway; it keeps ``2**n`` from overflowing a float."""


def backoff_delay(attempt: int, *, first_s: float = FIRST_S, cap_s: float = CAP_S) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...; 0 counts as 1)."""
    doublings = min(max(attempt - 1, 0), _MAX_DOUBLINGS)
    ceiling = min(cap_s, first_s * 2.0**doublings)
    return random.uniform(ceiling / 2, ceiling)
