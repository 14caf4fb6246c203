"""Formatted text: UTF-16 lengths, entities, and the pieces the parsers share.

Telegram counts text and entity offsets in UTF-16 code units and reports
parse errors at UTF-8 byte offsets of the raw text; the helpers here do both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request, cant_parse
from .wire import JSONDict


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def byte_offset(text: str, index: int) -> int:
    # Telegram reports parse errors at UTF-8 byte offsets of the raw text.
    return len(text[:index].encode("utf-8", "surrogatepass"))


@dataclass
class FormattedText:
    """Text after entity parsing, with Bot API ``MessageEntity`` dicts."""

    text: str
    entities: list[JSONDict] = field(default_factory=list)


def entity(kind: str, offset: int, length: int, **extra: Any) -> JSONDict:
    return {"type": kind, "offset": offset, "length": length, **extra}


def sorted_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


@dataclass(kw_only=True)
class Opening:
    """Where an entity began, kept by a parser until it finds the entity's end."""

    byte_offset: int  # in the raw text, where errors about the entity point
    utf16_start: int  # in the parsed text: the entity's offset
    out_start: int  # parts of the parsed text before it: its text is ``since(out_start)``


class TextBuilder:
    """The parsed text being built, tracking its UTF-16 length as it grows."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.utf16 = 0

    def emit(self, chars: str) -> None:
        self.parts.append(chars)
        self.utf16 += utf16_len(chars)

    def since(self, index: int) -> str:
        return "".join(self.parts[index:])

    def __len__(self) -> int:
        return len(self.parts)

    def text(self) -> str:
        return "".join(self.parts)


# tdlib's is_space treats the terminating NUL as a space; `char_at` returns NUL past the end.
SPACES = frozenset(" \t\r\n\0\v")


def char_at(text: str, index: int) -> str:
    return text[index] if index < len(text) else "\0"


_ENTITY_TYPES = frozenset(
    {
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
        "bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
        "expandable_blockquote", "code", "pre", "text_link", "text_mention", "custom_emoji",
        "date_time",
    }
)  # fmt: skip
_ENTITY_REQUIRED = {
    "text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id",
    "date_time": "unix_time",
}  # fmt: skip


def check_entities(text: str, entities: Any) -> list[JSONDict]:
    """Validate an ``entities`` parameter against ``text`` (offsets in UTF-16 units)."""
    if not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    checked: list[JSONDict] = []
    for index, given in enumerate(entities):
        if not isinstance(given, dict) or given.get("type") not in _ENTITY_TYPES:
            raise bad_request(f"can't parse MessageEntity #{index}: unsupported type specified")
        offset, length = given.get("offset"), given.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 1:
            raise cant_parse(f"entity #{index} has invalid offset or length")
        if offset + length > total:
            raise cant_parse(
                f"entity #{index} ends at UTF-16 offset {offset + length}, "
                f"beyond the end of the text ({total})"
            )
        required = _ENTITY_REQUIRED.get(given["type"])
        if required and required not in given:
            raise bad_request(f'can\'t parse MessageEntity #{index}: field "{required}" is missing')
        checked.append(dict(given))
    return sorted_entities(checked)


# --- entities Telegram finds by itself -------------------------------------------------------
# Telegram marks links in every message's text, whatever the parse mode: a ``url`` entity
# over ``https://…``, ``www.…`` or a bare ``name.tld/…``, and an ``email`` one over an
# address. Not inside code, pre or a text link, where the text is not meant as a link.

_URL_TLDS = "com|org|net|io|dev|app|ru|su|info|biz|edu|gov|me|co|uk|de|fr|eu|us|tech|ai|xyz|рф"
_URL = re.compile(
    r"(?<![\w@./-])(?:"
    r"(?:https?|ftp|tg)://[^\s<>\"]+"
    r"|www\.[^\s<>\"]+"
    rf"|(?:[a-z0-9\u0400-\u04ff-]+\.)+(?:{_URL_TLDS})(?![\w.-]*\w)(?:[/?#:][^\s<>\"]*)?"
    r")",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}\b", re.IGNORECASE)
_TRAILING = ".,;:!?'\"»"
_NOT_LINKS = frozenset({"code", "pre", "text_link", "url", "email"})


def _link_end(text: str, start: int, end: int) -> int:
    """Where a link found by the pattern really ends: without trailing punctuation, and
    without a closing bracket it did not open (``(see https://x.org)``)."""
    while end > start:
        last = text[end - 1]
        unopened = last == ")" and text.count("(", start, end) < text.count(")", start, end)
        if last not in _TRAILING and not unopened:
            break
        end -= 1
    return end


def found_entities(text: str, entities: list[JSONDict]) -> list[JSONDict]:
    """``entities`` with the ``url`` and ``email`` entities Telegram adds by itself."""
    taken: list[tuple[int, int]] = [
        (e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in _NOT_LINKS
    ]
    found: list[JSONDict] = []
    for kind, pattern in (("email", _EMAIL), ("url", _URL)):
        for match in pattern.finditer(text):
            end = _link_end(text, match.start(), match.end())
            start16 = utf16_len(text[: match.start()])
            end16 = start16 + utf16_len(text[match.start() : end])
            if end16 <= start16 or any(s < end16 and start16 < e for s, e in taken):
                continue
            taken.append((start16, end16))
            found.append(entity(kind, start16, end16 - start16))
    if not found:
        return entities
    return sorted_entities([*entities, *found])


def with_found_entities(formatted: FormattedText) -> FormattedText:
    return FormattedText(formatted.text, found_entities(formatted.text, formatted.entities))
