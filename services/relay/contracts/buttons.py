"""An output entry's ``buttons``, read leniently: a bad keyboard never costs the reply its text.

CONTRACTS.md: rows of ``{"text", "data"}``, at most 8 rows of 4, labels of
at most 64 characters, data of at most 256 bytes. What the relay does with
what the PO wrote:

- absent, null or empty: no keyboard;
- a label over 64 characters: cut (with an ellipsis);
- data over 256 bytes: that button is dropped (its press could not carry it);
- anything else out of shape (not a list of lists of objects, a label or
  data not a string, an empty label, more than 8 rows or 4 a row): the
  whole keyboard is dropped and the text delivered without it.

Each entry that lost something is logged once (``po_buttons_dropped``).
"""

from __future__ import annotations

from typing import Any

from shared.log import get_logger
from shared.po_buttons import (
    MAX_DATA_BYTES,
    MAX_LABEL_CHARS,
    MAX_PER_ROW,
    MAX_ROWS,
    OfferedButton,
)

log = get_logger(__name__)

Rows = tuple[tuple[OfferedButton, ...], ...]


class _Malformed(ValueError):
    pass


def read_buttons(raw: Any, request_id: object = None) -> Rows:
    """The keyboard ``raw`` describes, as much of it as can be shown; ``()``: none."""
    if raw is None or raw == []:
        return ()
    try:
        rows, dropped = _rows(raw)
    except _Malformed as exc:
        log.warning("po_buttons_dropped", reason=str(exc), request_id=_id(request_id))
        return ()
    if dropped:
        why = "data_too_long"
        log.warning("po_buttons_dropped", reason=why, buttons=dropped, request_id=_id(request_id))
    return rows


def _rows(raw: Any) -> tuple[Rows, int]:
    if not isinstance(raw, list) or not all(isinstance(row, list) for row in raw):
        raise _Malformed("not_rows")
    if len(raw) > MAX_ROWS or any(len(row) > MAX_PER_ROW for row in raw):
        raise _Malformed("too_many")
    rows: list[tuple[OfferedButton, ...]] = []
    dropped = 0
    for row in raw:
        kept = []
        for item in row:
            button = _button(item)
            if button is None:
                dropped += 1
            else:
                kept.append(button)
        if kept:
            rows.append(tuple(kept))
    return tuple(rows), dropped


def _button(item: Any) -> OfferedButton | None:
    """The button, its label cut to size; None when its data is too long to keep."""
    if not isinstance(item, dict):
        raise _Malformed("not_a_button")
    text, data = item.get("text"), item.get("data")
    if not isinstance(text, str) or not isinstance(data, str) or not text.strip():
        raise _Malformed("bad_button")
    if len(data.encode()) > MAX_DATA_BYTES:
        return None
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1] + "…"
    return OfferedButton(text, data)


def _id(request_id: object) -> str | None:
    return request_id if isinstance(request_id, str) else None
