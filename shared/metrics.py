"""Prometheus metrics: every name the bot exports, in one place.

Each process makes one ``Metrics(service)`` in its serve function and hands
it to the components that count; ``shared.health.serve_health`` serves it
on ``/metrics``. Every ``Metrics`` has a registry of its own (never the
global default one), so tests can make as many as they like. Every series
carries ``service`` (``ingress``, ``relay``, ``notifier``, ``files``); Prometheus adds
``instance`` from the scrape target, so two relays are told apart without
a label of ours.

Labels are low-cardinality by construction: each takes a value from a
closed list below (anything else is counted as ``other``), never a user
id, a chat id, a stream key with an id in it, an error text or a token.

Where each metric is counted is said by the method that counts it.

``process_*`` (CPU, memory, open files) come with every registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Final, Literal, get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

PREFIX: Final = "telegram_bot_"

Service = Literal["ingress", "relay", "notifier", "files"]

RejectReason = Literal["stranger", "no_sender", "auth_unavailable", "malformed", "duplicate"]
UndeliverableReason = Literal["blocked", "rejected"]
RetryReason = Literal["retry_after", "server_error", "network", "bad_response", "plain_fallback"]
StreamKind = Literal[
    "incoming",
    "po_input",
    "po_output",
    "worker_commands",
    "provisioner_results",
    "po_proactive",
    "po_proactive_dead",
    "access_outcomes",
]
ProactiveDropReason = Literal["chat_unknown", "blocked", "too_old"]
ControlAction = Literal["stop", "stop_idle", "restart"]

UPDATE_KINDS: Final = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
"""Telegram's update types; any other ``kind`` is counted as ``other``."""

OTHER: Final = "other"

DELIVERY_LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""1 ms (a reply sent at once) to 30 s (waiting out flood limits); slower lands in +Inf."""

_SHOWN_UPDATE_KINDS: Final = ("message", "edited_message", "callback_query", "my_chat_member")
"""Shown as 0 before the first one arrives, so rates and alerts have a series from the start."""


class Metrics:
    """One process's metrics, in a registry of its own."""

    def __init__(self, service: Service) -> None:
        self.service: Final = service
        self.registry: Final = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        registry = self.registry

        self._updates_received = Counter(
            f"{PREFIX}updates_received",
            "Updates taken from Telegram, by update type.",
            ["service", "kind"],
            registry=registry,
        )
        self._updates_rejected = Counter(
            f"{PREFIX}updates_rejected",
            "Updates not handled as a known user's, by reason.",
            ["service", "reason"],
            registry=registry,
        )
        self._messages_forwarded = Counter(
            f"{PREFIX}messages_forwarded",
            "Chat messages written to a PO worker's input stream.",
            ["service"],
            registry=registry,
        ).labels(service=service)
        self._replies_delivered = Counter(
            f"{PREFIX}replies_delivered",
            "Replies and notifications Telegram accepted in full.",
            ["service"],
            registry=registry,
        ).labels(service=service)
        self._notifications_undeliverable = Counter(
            f"{PREFIX}notifications_undeliverable",
            "Admins a notification can never reach (counted as done), by reason.",
            ["service", "reason"],
            registry=registry,
        )
        self._results_too_old = Counter(
            f"{PREFIX}results_too_old",
            "Provisioning results first read past NOTIFIER_BACKFILL_S, acknowledged unsent.",
            ["service"],
            registry=registry,
        ).labels(service=service)
        self._proactive_dropped = Counter(
            f"{PREFIX}proactive_dropped",
            "PO-initiated messages acknowledged without being delivered, by reason.",
            ["service", "reason"],
            registry=registry,
        )
        self._telegram_429 = Counter(
            f"{PREFIX}telegram_429",
            "Telegram answers 429 Too Many Requests.",
            ["service"],
            registry=registry,
        ).labels(service=service)
        self._telegram_retries = Counter(
            f"{PREFIX}telegram_retries",
            "Bot API requests sent again, by reason.",
            ["service", "reason"],
            registry=registry,
        )
        self._dead_letters = Counter(
            f"{PREFIX}dead_letters",
            "Stream entries moved to <stream>:dead, by kind of stream.",
            ["service", "stream_kind"],
            registry=registry,
        )
        self._control = Counter(
            f"{PREFIX}conversation_control",
            "Users' /stop and /new acted on by a relay, by action.",
            ["service", "action"],
            registry=registry,
        )
        self._replies_hidden = Counter(
            f"{PREFIX}replies_hidden",
            "PO output entries (snapshots and finals) of requests the user stopped, not shown.",
            ["service"],
            registry=registry,
        ).labels(service=service)
        self._stream_pending = Gauge(
            f"{PREFIX}stream_pending",
            "Entries read or claimed by this process and not yet handled, by kind of stream.",
            ["service", "stream_kind"],
            registry=registry,
        )
        self._incoming_backlog_full = Gauge(
            f"{PREFIX}incoming_backlog_full",
            "Incoming partitions found at their backlog cap: their updates are not confirmed.",
            ["service"],
            registry=registry,
        ).labels(service=service)
        self._redis_wait_short = Counter(
            f"{PREFIX}redis_wait_short",
            "WAITs that saw fewer replicas than REDIS_MIN_REPLICAS_ACK: updates not confirmed.",
            ["service"],
            registry=registry,
        ).labels(service=service)
        self._delivery_latency = Histogram(
            f"{PREFIX}delivery_latency_seconds",
            "From a stream entry's creation to Telegram accepting its delivery.",
            ["service"],
            buckets=DELIVERY_LATENCY_BUCKETS,
            registry=registry,
        ).labels(service=service)

        for kind in (*_SHOWN_UPDATE_KINDS, OTHER):
            self._updates_received.labels(service=service, kind=kind)
        for reason in get_args(RejectReason):
            self._updates_rejected.labels(service=service, reason=reason)
        for undeliverable in get_args(UndeliverableReason):
            self._notifications_undeliverable.labels(service=service, reason=undeliverable)
        for dropped in get_args(ProactiveDropReason):
            self._proactive_dropped.labels(service=service, reason=dropped)
        for retry in get_args(RetryReason):
            self._telegram_retries.labels(service=service, reason=retry)
        for stream_kind in get_args(StreamKind):
            self._dead_letters.labels(service=service, stream_kind=stream_kind)
        for action in get_args(ControlAction):
            self._control.labels(service=service, action=action)

    # --- ingress -----------------------------------------------------------------------

    def update_received(self, kind: str, count: int = 1) -> None:
        """``telegram_bot_updates_received_total{kind}``: ingress, per update taken from Telegram.

        Once per update of a polling batch or a webhook call, before
        authentication. ``kind``: the update's type (``Update.event_type``:
        ``message``, ``callback_query``...); unknown ones count as other.
        """
        label = kind if kind in UPDATE_KINDS else OTHER
        self._updates_received.labels(service=self.service, kind=label).inc(count)

    def update_rejected(self, reason: RejectReason) -> None:
        """``telegram_bot_updates_rejected_total{reason}``: ingress, per update not a user's.

        ``stranger`` (the API does not know the sender; counted even when no
        rejection message is sent), ``no_sender``, ``auth_unavailable`` (the
        API did not answer), ``malformed`` (aiogram could not parse it),
        ``duplicate`` (its ``update_id`` was seen before).
        """
        label = _closed(reason, get_args(RejectReason))
        self._updates_rejected.labels(service=self.service, reason=label).inc()

    def set_incoming_backlog_full(self, partitions: int) -> None:
        """``telegram_bot_incoming_backlog_full``: ingress, a gauge.

        The ``bot:incoming:{p}`` partitions it last found at ``INCOMING_BACKLOG_MAX``
        (no relay forwards them): while above 0, updates are not confirmed and wait
        at Telegram (for at most 24 h). Alert on it.
        """
        self._incoming_backlog_full.set(partitions)

    def redis_wait_short(self) -> None:
        """``telegram_bot_redis_wait_short_total``: ingress, per ``WAIT`` that timed out.

        Fewer than ``REDIS_MIN_REPLICAS_ACK`` replicas acknowledged a stored
        batch in ``REDIS_WAIT_TIMEOUT_MS``: its updates were not confirmed to
        Telegram (polling retries, the webhook answers 503). Alert on its rate.
        """
        self._redis_wait_short.inc()

    # --- relay and notifier ------------------------------------------------------------

    def message_forwarded(self, count: int = 1) -> None:
        """``telegram_bot_messages_forwarded_total``: relay, per message written to a PO's input.

        Not for a duplicate it had forwarded already.
        """
        self._messages_forwarded.inc(count)

    def conversation_control(self, action: ControlAction) -> None:
        """``telegram_bot_conversation_control_total{action}``: relay, per control acted on.

        ``stop`` (a request cancelled), ``stop_idle`` (a ``/stop`` with nothing
        running), ``restart`` (a confirmed ``/new``).
        """
        label = _closed(action, get_args(ControlAction))
        self._control.labels(service=self.service, action=label).inc()

    def reply_hidden(self) -> None:
        """``telegram_bot_replies_hidden_total``: relay, per output entry of a stopped request."""
        self._replies_hidden.inc()

    def reply_delivered(self, count: int = 1) -> None:
        """``telegram_bot_replies_delivered_total``: relay, per PO reply accepted in full.

        Every part accepted by Telegram; the notifier counts once per admin
        told about a result.
        """
        self._replies_delivered.inc(count)

    def notification_undeliverable(self, reason: UndeliverableReason) -> None:
        """``telegram_bot_notifications_undeliverable_total{reason}``: notifier.

        Once per admin a result can never reach, who is then counted as done
        with it: ``blocked`` (403, the admin blocked the bot), ``rejected``
        (another refusal that no retry changes, such as 400 "chat not found"
        for an id that never started the bot).
        """
        label = _closed(reason, get_args(UndeliverableReason))
        self._notifications_undeliverable.labels(service=self.service, reason=label).inc()

    def results_too_old(self, count: int) -> None:
        """``telegram_bot_results_too_old_total``: notifier, per result never told.

        First read more than ``NOTIFIER_BACKFILL_S`` after it was published
        (history in a group made at ``0``, or every notifier down that long):
        acknowledged without a message.
        """
        self._results_too_old.inc(count)

    def proactive_dropped(self, reason: ProactiveDropReason, count: int = 1) -> None:
        """``telegram_bot_proactive_dropped_total{reason}``: notifier (``po-service``).

        Per ``po:proactive`` message acknowledged unsent: ``chat_unknown`` (the API
        no longer knows the chat's user), ``blocked`` (403: the user blocked the
        bot), ``too_old`` (first read past ``NOTIFIER_BACKFILL_S``). Messages given
        up on (dead-lettered and told to the admins) are in ``dead_letters``.
        """
        label = _closed(reason, get_args(ProactiveDropReason))
        self._proactive_dropped.labels(service=self.service, reason=label).inc(count)

    def observe_delivery_latency(self, seconds: float) -> None:
        """``telegram_bot_delivery_latency_seconds``: a histogram, 1 ms to 30 s.

        From a stream entry's creation (its id, ``entry_age_s(entry_id)``) to
        the end of its delivery: relay, a PO reply entry to Telegram accepting
        its last part; notifier, a provisioner result to the last admin told.
        A negative value (clocks a little apart) counts as 0.
        """
        self._delivery_latency.observe(max(0.0, seconds))

    # --- the sender --------------------------------------------------------------------

    def telegram_429(self) -> None:
        """``telegram_bot_telegram_429_total``: ``shared.sending``, per ``TelegramRetryAfter``.

        Previews included.
        """
        self._telegram_429.inc()

    def telegram_retry(self, reason: RetryReason) -> None:
        """``telegram_bot_telegram_retries_total{reason}``: ``shared.sending``, per piece resent.

        ``retry_after`` (after a 429 pause), ``server_error`` (5xx),
        ``network``, ``bad_response`` (a reply aiogram could not decode),
        ``plain_fallback`` (sent again without formatting after "can't parse
        entities").
        """
        label = _closed(reason, get_args(RetryReason))
        self._telegram_retries.labels(service=self.service, reason=label).inc()

    # --- streams -----------------------------------------------------------------------

    def dead_letter(self, stream_kind: StreamKind, count: int = 1) -> None:
        """``telegram_bot_dead_letters_total{stream_kind}``: per entry moved to ``<stream>:dead``.

        By ``shared.streams`` (``StreamConsumer._dead_letter``; the notifier's
        ``provisioner_results``, ``po_proactive`` and ``po_proactive_dead``) and
        the relay's cursors (``incoming``, ``po_output``).
        """
        label = _closed(stream_kind, get_args(StreamKind))
        self._dead_letters.labels(service=self.service, stream_kind=label).inc(count)

    def set_stream_pending(self, stream_kind: StreamKind, count: int) -> None:
        """``telegram_bot_stream_pending{stream_kind}``: a gauge, set on each loop turn.

        From what the process already knows: notifier, the group's pending
        count on ``provisioner:results``, ``po:proactive`` and ``po:proactive:dead``
        (``XPENDING`` summary); relay, entries read from ``bot:incoming:{p}`` and
        not yet forwarded, summed over its partitions (``incoming``), and replies
        read and not yet delivered (``po_output``). Each process reports its own share: sum
        over ``instance`` for the total.
        """
        label = _closed(stream_kind, get_args(StreamKind))
        self._stream_pending.labels(service=self.service, stream_kind=label).set(count)

    # --- exposition --------------------------------------------------------------------

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text format ``generate_latest`` writes."""


def entry_age_s(entry_id: str, now: Callable[[], float] = time.time) -> float:
    """Seconds since Redis created the stream entry ``entry_id`` (``<ms>-<seq>``)."""
    milliseconds, _sep, _seq = entry_id.partition("-")
    return now() - int(milliseconds) / 1000


def _closed(value: str, allowed: Iterable[str]) -> str:
    # The type says which values are allowed; this keeps a wrong one from
    # becoming a new series at run time (a metric must never raise).
    return value if value in allowed else OTHER
