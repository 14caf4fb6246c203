"""Capped exponential backoff with jitter, for the ingress's retry loops."""

from __future__ import annotations

import random


def retry_delay(attempt: int, *, first_s: float = 0.1, cap_s: float = 5.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...)."""
    # Jitter: replicas that lost a dependency together do not come back in lockstep.
    ceiling = min(cap_s, first_s * 2 ** min(attempt - 1, 30))
    return random.uniform(ceiling / 2, ceiling)
