"""When a reply Telegram keeps failing on is given up: the one rule for every profile.

A reply is given up once it has failed ``max_attempts`` sends (each after the
sender's own retries) AND ``max_age_s`` have passed since the first failure:
both, so a Telegram outage shorter than ``REPLY_MAX_AGE_S`` loses nothing,
and a send whose every try hangs until its timeout is not given up after a
round or two. The counts live in the relay's memory: a takeover starts them
again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True)
class FailedSends:
    """The failed sends of one reply so far."""

    count: int = 0
    first_at: float = 0.0
    """``time.monotonic()`` of the first failure."""

    def note(self) -> None:
        if not self.count:
            self.first_at = time.monotonic()
        self.count += 1

    def hopeless(self, max_attempts: int, max_age_s: float) -> bool:
        return self.count >= max_attempts and time.monotonic() - self.first_at >= max_age_s
