"""``po-service``: the current platform's one PO service for every user (CONTRACTS.md).

No spawn, no ``worker:commands``, no per-user stream: each chat message is
one ``po:input`` entry of FLAT string fields (never ``user_id``, which the
platform rejects), and its answer comes back on ``po:response:{request_id}``
(flat ``text``, ``telegram_chat_id``, optional ``error="true"``), read from
id ``0`` and deleted once handled. This module is the wire shape only; how
the relay waits for the answers is in ``docs/ARCHITECTURE.md``, "PO
contract profiles".
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Final

import msgspec

from services.relay.contracts.attachments import read_attachments
from services.relay.contracts.base import POReply
from shared import keys
from shared.schemas import IncomingMessage, MalformedEntry
from shared.streams import Fields

INPUT_STREAM: Final = keys.PO_INPUT
RESPONSE_PREFIX: Final = keys.PO_RESPONSE_PREFIX
TIMESTAMP_FORMAT: Final = "%Y-%m-%dT%H:%M:%S"
_encoder: Final = msgspec.json.Encoder()
FORBIDDEN_FIELD: Final = "user_id"
"""The platform rejects an entry addressing a user by its internal id."""


class PoServiceContract:
    """The profile as the relay's wiring sees it: requests and answers, no worker, no lifecycle."""

    name: str = "po-service"
    lifecycle_stream: str | None = None

    def failed_user(self, fields: Fields) -> int | None:
        return None

    def input_stream(self, user_id: int) -> str:
        return INPUT_STREAM

    def cancel_data(self, message: IncomingMessage, cancels: str) -> bytes | None:
        # The platform's po:input takes user messages, system events and reminders
        # only: a stop is the bot's (the answer is hidden), the PO is not told.
        return None

    def delete_command(self, user_id: int) -> bytes:
        return b""  # no worker: nothing to delete


PO_SERVICE: Final = PoServiceContract()


def response_stream(request_id: str) -> str:
    """Where the PO answers the request ``request_id``."""
    return keys.po_response(request_id)


def request_id_for(message: IncomingMessage, entry_id: str) -> str:
    """The ingress's ``request_id`` when it is a uuid; else one derived from the entry.

    Derived, not random: a retry of the same incoming entry (a relay killed
    before it heard the script's answer) names the same request, with no
    record to keep. It has the form of a uuid4, as the platform expects.
    """
    try:
        return str(uuid.UUID(message.request_id))
    except ValueError:
        digest = hashlib.sha256(f"{message.user_id}:{entry_id}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))


def input_fields(
    message: IncomingMessage, request_id: str, *, now: datetime | None = None
) -> dict[str, str]:
    """The ``po:input`` entry for ``message``: exactly the platform's ``POUserMessage``.

    Plus, for a message with files, ``attachments``: their JSON list (flat
    fields are strings; CONTRACTS.md, "Bot extensions"). ``text`` is the caption.
    """
    moment = now or datetime.now(UTC)
    fields = {
        "type": "user_message",
        "text": message.text,
        "telegram_chat_id": str(message.chat_id),
        "request_id": request_id,
        "user_name": "",
        "timestamp": moment.strftime(TIMESTAMP_FORMAT),
    }
    if message.attachments:
        fields["attachments"] = _encoder.encode(message.attachments).decode()
    return fields


def decode_response(fields: Fields, request_id: str) -> POReply:
    """A ``po:response:{request_id}`` entry; an ``error`` answer shows its text too.

    ``attachments`` (the bot's extension): a flat field holding the JSON list;
    with files, ``text`` may be absent or empty.
    """
    files = read_attachments(fields.get(b"attachments"), request_id)
    text = fields.get(b"text")
    shown = None if text is None else text.decode(errors="replace")
    if shown is None or not shown.strip():
        if files:
            return POReply(None, True, request_id, attachments=files)
        what = "no 'text' field" if shown is None else "an empty 'text'"
        raise MalformedEntry(f"po:response entry has {what}")
    return POReply(shown, True, request_id, attachments=files)


def is_error(fields: Fields) -> bool:
    return fields.get(b"error", b"").lower() == b"true"
