"""An output entry's ``attachments``, read leniently: a bad file never costs the reply the rest.

CONTRACTS.md: a list of ``{"kind", "url" | "data", "file_name", "mime_type",
"caption"}``. Each item that is out of shape (not an object, an unknown
kind, both or neither of ``url`` and ``data``, a field of the wrong type)
stays in the list as :class:`Unreadable`, in its place: the user gets a
one-line note there instead of the file. A list that is not a list at all
is one :class:`Unreadable`. Each entry that lost something is logged once
(``po_attachments_dropped``). The bytes (``data``'s base64, a ``url``'s
download) are checked when the reply is sent (``services.relay.reply_files``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from shared.attachments import OutgoingAttachment
from shared.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An attachment the PO described wrongly; ``name``: its ``file_name`` if it gave one."""

    name: str | None
    reason: str


Attachments = tuple[OutgoingAttachment | Unreadable, ...]


def read_attachments(raw: Any, request_id: object = None) -> Attachments:
    """The files ``raw`` describes, in order, each readable or :class:`Unreadable`."""
    if raw is None or raw == []:
        return ()
    if isinstance(raw, str | bytes):  # po-service: the JSON list in a flat field
        try:
            raw = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raw = object()
    items = raw if isinstance(raw, list) else [raw]
    read = tuple(_one(item) for item in items)
    bad = [item.reason for item in read if isinstance(item, Unreadable)]
    if bad:
        rid = request_id if isinstance(request_id, str) else None
        log.warning("po_attachments_dropped", reasons=bad, count=len(read), request_id=rid)
    return read


def _one(item: Any) -> OutgoingAttachment | Unreadable:
    name = item.get("file_name") if isinstance(item, dict) else None
    try:
        return msgspec.convert(item, OutgoingAttachment)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        reason = str(exc).split("\n", 1)[0][:200]
        return Unreadable(name if isinstance(name, str) and name.strip() else None, reason)
