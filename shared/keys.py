"""Redis key and stream names, in one place.

The names shared with other services come from the design document and
CONTRACTS.md; the ``bot:`` names are the bot's own business. Every name two
processes of the bot meet at is here too. A few keys only one component
ever touches are named beside the code that owns them, under the same
``bot:`` prefix: the relays' leases, positions and wake streams
(``services.relay.keyspace``), the flood budget (``bot:flood:*``,
``shared.ratelimit``), the sent records and previews (``bot:sent:*``,
``bot:preview:*``, ``shared.sending``), the ingress's update dedupe
(``bot:update:*``, ``services.ingress.intake``) and keyboard sessions
(``bot:keyboard:*``, ``services.ingress.keyboard_sessions``).
``docs/ARCHITECTURE.md`` lists every key with its type, TTL, writers and
readers.
"""

from __future__ import annotations

# Shared with the worker-manager, the PO workers and the provisioner.
WORKER_COMMANDS = "worker:commands"
WORKER_RESPONSES_PO = "worker:responses:po"
PROVISIONER_RESULTS = "provisioner:results"

# The bot's own streams and groups.
PARTITIONS = 16
"""Users are spread over this many partitions; one relay owns a partition at a time,
which keeps each user's order. A constant, not a setting: the ingress and every
relay must agree on it, and changing it means draining the streams first."""


def partition_of(user_id: int) -> int:
    return user_id % PARTITIONS


def incoming(partition: int) -> str:
    """``bot:incoming:{p}``: chat messages of the users in partition ``p``."""
    return f"bot:incoming:{partition}"


ANSWERS = "bot:answers"
"""The ingress's answers (quick commands, help, rejections, page turns), stored with
the updates that asked for them and deleted once sent; see ``services.ingress.outbox``."""


def ingress_alive(instance: str) -> str:
    """``bot:ingress:alive:{instance}``: exists (short TTL, renewed) while that ingress runs."""
    return f"bot:ingress:alive:{instance}"


NOTIFIER_GROUP = "telegram-bot"
"""The notifier's group on provisioner:results (CONTRACTS.md names it)."""

SESSION_TTL_S = 24 * 60 * 60


def session(user_id: int) -> str:
    """``session:{user_id}``: the user's PO worker id, TTL 24 h."""
    return f"session:{user_id}"


def worker_status(worker_id: str) -> str:
    """``worker:status:{worker_id}``: a hash with field ``status`` (or a plain string)."""
    return f"worker:status:{worker_id}"


def po_input(user_id: int) -> str:
    """``worker:po:{user_id}:input``: the user's messages for their PO."""
    return f"worker:po:{user_id}:input"


def po_output(user_id: int) -> str:
    """``worker:po:{user_id}:output``: the PO's replies for the user."""
    return f"worker:po:{user_id}:output"


def po_worker_id(user_id: int) -> str:
    """The worker id is the config name (CONTRACTS.md)."""
    return f"po-{user_id}"


WORKER_LIFECYCLE = "worker:lifecycle"
"""The worker wrapper's lifecycle events (``worker-streams``): started, completed, failed."""


def worker_input(worker_id: str) -> str:
    """``worker:{worker_id}:input``: the worker wrapper's input stream (``worker-streams``)."""
    return f"worker:{worker_id}:input"


def worker_output(worker_id: str) -> str:
    """``worker:{worker_id}:output``: the worker wrapper's output stream (``worker-streams``)."""
    return f"worker:{worker_id}:output"


def dead_letter(stream: str) -> str:
    """Where entries of ``stream`` that cannot be handled are moved."""
    return f"{stream}:dead"


def user_chat(user_id: int) -> str:
    """``bot:chat:{user_id}``: the chat a user's PO replies go to."""
    return f"bot:chat:{user_id}"


def spawn_guard(user_id: int) -> str:
    """Held while a create command for the user is in flight: one spawn, not two."""
    return f"bot:spawn:{user_id}"


PO_INPUT = "po:input"
"""The PO service's one input stream (``po-service``): flat fields, never ``user_id``."""

PO_RESPONSE_PREFIX = "po:response:"


def po_response(request_id: str) -> str:
    """``po:response:{request_id}``: where the PO service answers one request (``po-service``)."""
    return f"{PO_RESPONSE_PREFIX}{request_id}"


# --- conversation control (/stop, /new, /status): written by the relays, read by the ingress


def pending(user_id: int) -> str:
    """``bot:pending:{user_id}``: sorted set, request id -> when it reached the PO (ms).

    The user's messages handed to the PO and not yet answered by a final
    reply, oldest first: the request ``/stop`` cancels, what ``/status``
    counts. Written in the same script as the PO input; a final reply
    removes its request (by id, or the oldest when the PO names none).
    Expires with the session (``SESSION_TTL_S`` after the last message).
    """
    return f"bot:pending:{user_id}"


def cancelled(user_id: int) -> str:
    """``bot:cancelled:{user_id}``: set of the user's pending request ids they stopped.

    A reply attributed to one of them (snapshots and final) is dropped, not
    shown; its final removes it here and from ``pending``.
    """
    return f"bot:cancelled:{user_id}"


def restart_mark(user_id: int) -> str:
    """``bot:restart:{user_id}``: the message id of the last ``/new`` confirmation acted on.

    A confirmation's id only grows in a chat, so a press of one already acted
    on (a double tap, a second ingress, a replay) starts nothing over again.
    """
    return f"bot:restart:{user_id}"


def acks(user_id: int) -> str:
    """``bot:acks:{user_id}``: hash, pending request id -> the chat message the bot reacted to.

    Written with the PO input when ``ACK_REACTIONS`` is on; the final reply's
    step takes the field, so the relay that delivers it removes the 👀.
    """
    return f"bot:acks:{user_id}"


PO_PROACTIVE = "po:proactive"
"""Messages the PO service starts itself (``po-service``): flat fields, read by the notifier."""

PROACTIVE_GROUP = "tg-bot-proactive"
"""The notifier's group on ``po:proactive`` (CONTRACTS.md names it)."""

PROACTIVE_ALERTS_GROUP = "tg-bot-proactive-alerts"
"""The notifier's group on ``po:proactive:dead``: each given-up PO message told to the admins."""


# --- buttons a PO offered (issue 15): written by the relays, claimed by the ingress


def po_buttons(key: str) -> str:
    """``bot:buttons:{key}``: the buttons under one PO reply (``shared.po_buttons.ButtonOffer``).

    ``key`` is derived from the user and the output entry (a re-sent reply
    writes the same record); the TTL is the relay's ``PO_BUTTONS_TTL_S``.
    """
    return f"bot:buttons:{key}"


def po_button_press(key: str) -> str:
    """``bot:buttons:{key}:pressed``: the update id of the one press that counted.

    Set (NX, with the offer's remaining TTL) by the ingress that took the
    press; the same update delivered again still counts, any other is refused.
    """
    return f"bot:buttons:{key}:pressed"
