"""A message's text as Telegram gets it: pieces of at most one message each, and markup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from shared.formatting.splitting import Part, plain_parts, render_parts

ReplyMarkup = Mapping[str, Any]
"""A Bot API ``reply_markup`` as JSON: ``{"inline_keyboard": [[{"text": ..., "callback_data":
...}]]}``, ``{"keyboard": ...}``, ``{"remove_keyboard": True}``, ``{"force_reply": True}``
(see :mod:`shared.telegram`). aiogram markup: ``markup.model_dump(exclude_none=True)``."""


class Piece(msgspec.Struct, frozen=True):
    """One message's text as sent: ``text`` in ``parse_mode``, and its plain form."""

    text: str
    parse_mode: str | None
    plain: str

    @classmethod
    def html(cls, part: Part) -> Piece:
        return cls(part.html, "HTML", part.plain)

    @classmethod
    def plain_text(cls, text: str) -> Piece:
        return cls(text, None, text)

    def as_plain(self) -> Piece:
        return Piece.plain_text(self.plain)


def pieces(text: str, *, markdown: bool = True) -> list[Piece]:
    """``text`` split into message pieces: rendered Markdown-ish as HTML, or plain."""
    if markdown:
        return [Piece.html(part) for part in render_parts(text)]
    return [Piece.plain_text(part) for part in plain_parts(text)]
