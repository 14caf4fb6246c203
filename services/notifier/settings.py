from __future__ import annotations

import os
import socket

import msgspec

from shared.settings import (
    BaseSettings,
    POContractName,
    require_not_negative,
    require_positive,
)


def _default_name() -> str:
    return f"notifier-{socket.gethostname()}-{os.getpid()}"


class NotifierSettings(BaseSettings, kw_only=True, frozen=True):
    notifier_name: str = msgspec.field(default_factory=_default_name)
    """This notifier's consumer name in the group; two live notifiers must never share one.

    The default, ``notifier-<host>-<pid>``, differs from one run to the next
    (unless the pid does not, as pid 1 in a container restarted in place): a
    previous run's pending results are then taken over with ``XAUTOCLAIM``
    once idle for ``notifier_retry_after_s`` (within 1.5 times that), by
    this process or another replica. A ``NOTIFIER_NAME`` kept across
    restarts (one notifier per host) resumes them at once instead."""
    po_contract: POContractName = "seed"
    """The relays' ``PO_CONTRACT``: with ``po-service`` the notifier also delivers the PO
    service's own messages (``po:proactive``) and tells the admins of those it gives up."""
    api_timeout_s: float = 5.0
    admins_cache_s: float = 60.0
    notifier_retry_after_s: float = 30.0
    """How long a result that could not reach every admin waits before a retry;
    also how long a dead replica's results wait before another takes them."""
    notifier_stale_consumer_s: float = 86_400.0
    """A consumer of the group idle this long (a day) and holding nothing is a run
    gone for good: it is removed from the group (at start, then hourly)."""
    notifier_backfill_s: float = 3600.0
    """How old a result may be when the group first reads it and still be told: a new
    group starts this far back, and an older result read for the first time (a group
    made at ``0``, or every notifier down longer than this) is acknowledged unsent."""
    access_requests_window_s: float = 3600.0
    """The rolling window of ``ACCESS_REQUESTS_PER_HOUR``: at most that many requests' cards
    go out in any window this long. An hour; shorter only in tests."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.notifier_name:
            raise ValueError("notifier_name: must not be empty")
        require_positive(self, "api_timeout_s")
        require_not_negative(self, "admins_cache_s")
        # The stream reader's claim idle time is this in whole milliseconds.
        if not self.notifier_retry_after_s >= 0.001:
            raise ValueError("notifier_retry_after_s: must be at least 0.001")
        if not self.notifier_stale_consumer_s > 0:
            raise ValueError("notifier_stale_consumer_s: must be positive")
        # Compared with stream ids, which count whole milliseconds.
        if not self.notifier_backfill_s >= 0.001:
            raise ValueError("notifier_backfill_s: must be at least 0.001")
        # Compared with Redis's clock in whole milliseconds.
        if not self.access_requests_window_s >= 0.001:
            raise ValueError("access_requests_window_s: must be at least 0.001")


Settings = NotifierSettings
