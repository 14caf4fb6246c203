"""The relay's own Redis keys; the ones shared with other services are in ``shared.keys``.

Every key here is the relays' private business (``bot:`` prefix). Several
Lua scripts also build ``session:{user_id}`` and ``worker:status:{id}``
names inside Redis: that is fine on one Redis server, and would need hash
tags on a Redis Cluster (which this layout does not target).
"""

from __future__ import annotations

from typing import Final

RELAYS: Final = "bot:relays"
"""Sorted set: live relay identity -> the time (Redis ms) its heartbeat expires."""

LEASE_PREFIX: Final = "bot:lease:"


def lease(partition: int) -> str:
    """``bot:lease:{p}``: the identity of the relay that owns partition ``p`` (PX ttl)."""
    return f"{LEASE_PREFIX}{partition}"


def forwarded(partition: int) -> str:
    """``bot:fwd:{p}``: id of the last ``bot:incoming:{p}`` entry forwarded to a PO.

    Advanced in the same script that writes the PO input, so it is the read
    position of the partition's next owner, the dedupe of re-reads, and the
    bound of the stream's trim (nothing after it is ever trimmed).
    """
    return f"bot:fwd:{partition}"


def active(partition: int) -> str:
    """``bot:active:{p}``: set of the partition's users whose PO replies are forwarded."""
    return f"bot:active:{partition}"


def reply_cursor(partition: int) -> str:
    """``bot:cursor:{p}``: hash user id -> id of the last output entry handled."""
    return f"bot:cursor:{partition}"


def typing(partition: int) -> str:
    """``bot:typing:{p}``: hash user id -> ``chat_id:until_ms``, a user waiting for a reply.

    Written by the forwarding script, cleared by the first reply handled, a
    start failure told, or the prune of an expired session: what a relay
    taking the partition over resumes. Best effort: a reply to an earlier
    message clears the record of a later one too (as it stops the local
    indicator), so that later message's wait is not resumed after a takeover.
    """
    return f"bot:typing:{partition}"


def start_watch(partition: int) -> str:
    """``bot:watch:{p}``: hash user id -> JSON of a PO start being watched."""
    return f"bot:watch:{partition}"


def wake(identity: str, reader: str) -> str:
    """A stream only this relay process reads, inside its blocking ``XREAD``.

    An entry there ends the block at once: how a reader learns that the set
    of streams it should wait on changed.
    """
    return f"bot:wake:{identity}:{reader}"


def po_requests(partition: int) -> str:
    """``po-service``: hash request id -> ``user:chat:deadline_ms:state`` (its pending requests)."""
    return f"bot:po:req:{partition}"


def po_users(partition: int) -> str:
    """``po-service``: set of the partition's users with a request waiting for its answer."""
    return f"bot:po:users:{partition}"


def po_queue(user_id: int) -> str:
    """``po-service``: list of the user's pending request ids, in the order they were sent."""
    return f"bot:po:queue:{user_id}"


def cancelling(partition: int) -> str:
    """``bot:cancelling:{p}``: set of the partition's users with cancelled requests.

    What a relay taking the partition over loads to keep hiding their replies
    (``bot:cancelled:{user}`` holds which); a user leaves it once none is left.
    """
    return f"bot:cancelling:{partition}"


def chats(partition: int) -> str:
    """``bot:chats:{p}``: hash user id -> the chat of their last message; never expires.

    Written by the forwarding script with ``bot:chat:{u}``, which expires with
    the session: a PO message to a user idle for days still finds its chat
    (:mod:`services.relay.wakeups`). One field per user who ever wrote.
    """
    return f"bot:chats:{partition}"


def albums(user_id: int) -> str:
    """``bot:albums:{user}``: hash album (``media_group_id``) -> ``first last`` entry ids.

    Written by the forwarding script that sends an album as one message: its
    later parts (``first`` < id <= ``last``) are skipped when they reach the
    head of the partition, by this relay or the next owner. Expires with the
    session (``SESSION_TTL_S`` after the last album).
    """
    return f"bot:albums:{user_id}"


def notifications(db: int, pattern: str) -> str:
    """The keyspace-notification channel pattern of the keys ``pattern`` in database ``db``."""
    return f"__keyspace@{db}__:{pattern}"
