"""When each message of the relay benchmark was written, read and answered by the PO, received.

Every time is ``time.monotonic()``: CLOCK_MONOTONIC, the same in every
process, so the echo PO's times (noted in its own process, in ``PO_TIMES``)
and the fake Telegram's line up with the bench's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

PO_TIMES = "bench:po:times"
"""Hash the echo PO writes: message text -> "read wrote" (monotonic seconds)."""


@dataclass
class Timeline:
    """time.monotonic() per message text (``b{n}``): CLOCK_MONOTONIC, the same in every process."""

    written: dict[str, float] = field(default_factory=dict)
    po_read: dict[str, float] = field(default_factory=dict)
    po_wrote: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)

    def added_ms(self, text: str) -> float:
        """Total time minus the PO's own: what the bot adds."""
        total = self.received[text] - self.written[text]
        return (total - (self.po_wrote[text] - self.po_read[text])) * 1000

    async def load_po_times(self, redis: aioredis.Redis) -> None:
        times: Any = await redis.hgetall(PO_TIMES)
        for text, value in times.items():
            read, wrote = value.split()
            self.po_read[text.decode()] = float(read)
            self.po_wrote[text.decode()] = float(wrote)
