"""A faithful fake of the Telegram Bot API, served over real HTTP.

Real aiogram talks to it exactly as it talks to Telegram::

    async with FakeTelegram() as fake:
        bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
        fake.inject_message(42, "/start")           # a user writes to the bot
        await bot.send_message(42, "<b>hi</b>", parse_mode="HTML")
        [msg] = await fake.wait_for_messages(42, 1)  # what the user sees
        assert msg["text"] == "hi"

It enforces what Telegram enforces, because a fake kinder than Telegram hides
bugs: text length in UTF-16 code units after entity parsing, HTML and
MarkdownV2 parsing with Telegram's error messages (a port of tdlib's parsers),
flood limits with 429 ``retry_after`` and the penalty that follows, blocked
users, one poller per token, webhook delivery retried until 2xx. Tests can
also script failures (429, 5xx, slow answers, dropped connections) and wait
for events instead of sleeping (:meth:`FakeTelegram.wait_for`).

Pieces, top to bottom:

* text formatting: :func:`parse_html`, :func:`parse_markdown_v2`,
  :func:`parse_markdown`, :func:`check_entities`, :func:`utf16_len`;
* flood control: :class:`FloodLimits`, :class:`FloodControl`;
* scripted failures: :class:`Failure`;
* records: :class:`Call`, :class:`ChatState`, :class:`Draft`, ...;
* Bot API methods: one ``async def`` each, registered with
  :func:`bot_method` (adding a method is one decorated function);
* :class:`FakeTelegram`: the server, its Python API and the HTTP control
  API under ``/_fake/`` (see :meth:`FakeTelegram._control_routes`);
* :func:`main`: run it standalone.

Deliberate deviations from Telegram are listed in ``DEVIATIONS`` below.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import itertools
import math
import re
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import aiohttp
import msgspec
from aiohttp import web

__all__ = [
    "DEFAULT_TOKEN",
    "DEVIATIONS",
    "ApiError",
    "Call",
    "ChatAction",
    "ChatState",
    "Draft",
    "Failure",
    "FakeTelegram",
    "FloodControl",
    "FloodLimits",
    "FormattedText",
    "ManualClock",
    "MethodSpec",
    "Params",
    "WebhookConfig",
    "WebhookDelivery",
    "bot_method",
    "check_entities",
    "format_message_text",
    "main",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

DEFAULT_TOKEN = "123456:TEST-token_abc"  # noqa: S105 (a fake bot's token)
MAX_TEXT_UTF16 = 4096
CONTROL_PREFIX = "/_fake"

#: Where this fake knowingly differs from Telegram, and why.
DEVIATIONS = (
    "strict_html (default on): `<a>` without href and unknown named entities such as "
    "`&nbsp;` are rejected; Telegram uses the link text as URL and keeps `&nbsp;` literally.",
    "Text length is counted in UTF-16 code units (the unit of entity offsets).",
    "Webhook URLs may be plain http on any port; Telegram wants https on 443/80/88/8443.",
    "Webhook updates are pushed one at a time even if max_connections > 1.",
    "Automatic entities (urls, mentions, hashtags) are not detected in bot messages.",
    "Error texts for drafts, entity bounds, bad parameter types and webhook secrets are "
    "plausible guesses in Telegram's shape, not captured ones.",
    "Flood limits are a model (token bucket per chat, sliding windows per group and per bot); "
    "Telegram's real algorithm is unpublished.",
    "Every non-zero integer chat id exists; '@username' chat ids are 'chat not found'.",
    "MarkdownV2 blockquotes ('>', '**>', '||') are parsed in a simplified way.",
)

T = TypeVar("T")
JSONDict = dict[str, Any]
Clock = Callable[[], float]

_json_encoder = msgspec.json.Encoder()


def _encode(value: Any) -> bytes:
    return _json_encoder.encode(value)


def _decode(raw: bytes | str) -> Any:
    return msgspec.json.decode(raw)


# --------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def _cant_parse(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_OTHER_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


# --------------------------------------------------------------------------
# Text: UTF-16 lengths and entity parsing (ports of tdlib's parsers)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, index: int) -> int:
    # Telegram reports parse errors at UTF-8 byte offsets of the raw text.
    return len(text[:index].encode("utf-8", "surrogatepass"))


@dataclass
class FormattedText:
    """Text after entity parsing, with Bot API ``MessageEntity`` dicts."""

    text: str
    entities: list[JSONDict] = field(default_factory=list)


def _entity(kind: str, offset: int, length: int, **extra: Any) -> JSONDict:
    return {"type": kind, "offset": offset, "length": length, **extra}


def _sorted_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


class _TextBuilder:
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


# tdlib's is_space treats the terminating NUL as a space; `_at` returns NUL past the end.
_SPACES = frozenset(" \t\r\n\0\v")
_ASCII_DIGITS = frozenset("0123456789")
_ASCII_HEX = frozenset("0123456789abcdefABCDEF")
_ASCII_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_LOOKS_LIKE_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")


def _at(text: str, index: int) -> str:
    return text[index] if index < len(text) else "\0"


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``pos`` like tdlib: (character, next index) or None if not one."""
    end = pos + 1
    if _at(text, end) == "#":
        end += 1
        value = 0
        hexadecimal = _at(text, end) == "x"
        if hexadecimal:
            end += 1
        digits = _ASCII_HEX if hexadecimal else _ASCII_DIGITS
        while _at(text, end) in digits:
            value = value * (16 if hexadecimal else 10) + int(text[end], 16)
            end += 1
            if value >= 0x10FFFF:
                return None
        if value == 0 or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while _at(text, end) in _ASCII_ALPHA:
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if _at(text, end) == ";":
        end += 1
    return char, end


_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
        "tg-emoji", "tg-time", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_HTML_SIMPLE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip


@dataclass
class _OpenTag:
    name: str
    byte_offset: int
    utf16_start: int
    out_start: int
    argument: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


class _HtmlParser:
    """tdlib's ``parse_html``, on Python strings; errors carry UTF-8 byte offsets."""

    def __init__(self, text: str, *, strict: bool) -> None:
        self.text = text
        self.strict = strict
        self.out = _TextBuilder()
        self.stack: list[_OpenTag] = []
        self.entities: list[JSONDict] = []

    def error(self, reason: str) -> ApiError:
        return _cant_parse(reason)

    def byte(self, index: int) -> int:
        return _byte_offset(self.text, index)

    def run(self) -> FormattedText:
        text, i = self.text, 0
        while i < len(text):
            char = text[i]
            if char == "&":
                decoded = _decode_html_entity(text, i)
                if decoded is not None:
                    self.out.emit(decoded[0])
                    i = decoded[1]
                    continue
                self.check_unknown_entity(i)
            if char != "<":
                self.out.emit(char)
                i += 1
            elif _at(text, i + 1) == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            name = self.stack[-1].name
            raise self.error(f'Can\'t find end tag corresponding to start tag "{name}"')
        entities = _strip_private_keys(self.entities)
        return FormattedText(self.out.text(), _sorted_entities(entities))

    def check_unknown_entity(self, i: int) -> None:
        # Telegram keeps "&nbsp;" literally; strict mode calls it the bug it usually is.
        match = _LOOKS_LIKE_NAMED_ENTITY.match(self.text, i)
        if self.strict and match:
            raise self.error(
                f'Unsupported HTML entity "{match.group(0)}" at byte offset {self.byte(i)}'
            )

    def start_tag(self, begin: int) -> int:
        text, i = self.text, begin + 1
        while _at(text, i) not in _SPACES and _at(text, i) != ">":
            i += 1
        if _at(text, i) == "\0":
            raise self.error(f"Unclosed start tag at byte offset {self.byte(begin)}")
        name = text[begin + 1 : i].lower()
        if name not in _HTML_TAGS:
            raise self.error(f'Unsupported start tag "{name}" at byte offset {self.byte(begin)}')
        tag = _OpenTag(name, self.byte(begin), self.out.utf16, len(self.out))
        i = self.attributes(tag, i)
        self.check_start_tag(tag)
        self.stack.append(tag)
        return i + 1  # past '>'

    def attributes(self, tag: _OpenTag, i: int) -> int:
        text = self.text
        while _at(text, i) != ">":
            while _at(text, i) != "\0" and _at(text, i) in _SPACES:
                i += 1
            if _at(text, i) == ">":
                break
            name_begin = i
            while _at(text, i) not in _SPACES and _at(text, i) not in "=>":
                i += 1
            name = text[name_begin:i]
            if not name:
                raise self.error(
                    f'Empty attribute name in the tag "{tag.name}" at byte offset {tag.byte_offset}'
                )
            while _at(text, i) != "\0" and _at(text, i) in _SPACES:
                i += 1
            if _at(text, i) != "=":
                if tag.name == "blockquote" and name == "expandable":
                    tag.attributes["expandable"] = ""
                    continue
                raise self.error(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag.name}" at byte offset {tag.byte_offset}'
                )
            value, i = self.attribute_value(tag, i + 1)
            tag.attributes[name] = value
        return i

    def attribute_value(self, tag: _OpenTag, i: int) -> tuple[str, int]:
        text = self.text
        while _at(text, i) != "\0" and _at(text, i) in _SPACES:
            i += 1
        if _at(text, i) == "\0":
            raise self.error(f'Unclosed start tag "{tag.name}" at byte offset {tag.byte_offset}')
        quote = _at(text, i)
        if quote not in "'\"":
            # An unquoted name token: letters, digits, periods, hyphens; case-insensitive.
            token_begin = i
            while _at(text, i).isascii() and (_at(text, i).isalnum() or _at(text, i) in ".-"):
                i += 1
            if _at(text, i) not in _SPACES and _at(text, i) != ">":
                raise self.error(
                    f"Unexpected end of name token at byte offset {self.byte(token_begin)}"
                )
            return text[token_begin:i].lower(), i
        i += 1
        value: list[str] = []
        while _at(text, i) not in (quote, "\0"):
            decoded = _decode_html_entity(text, i) if text[i] == "&" else None
            if decoded is not None:
                value.append(decoded[0])
                i = decoded[1]
            else:
                value.append(text[i])
                i += 1
        if _at(text, i) == quote:
            i += 1
        if _at(text, i) == "\0":
            raise self.error(f"Unclosed start tag at byte offset {tag.byte_offset}")
        return "".join(value), i

    def check_start_tag(self, tag: _OpenTag) -> None:
        attrs = tag.attributes
        if tag.name == "a":
            tag.argument = attrs.get("href", "")
        elif tag.name == "code" and attrs.get("class", "").startswith("language-"):
            tag.argument = attrs["class"].removeprefix("language-")
        elif tag.name == "span":
            tag.argument = attrs.get("class", "").removeprefix("tg-")
            if attrs.get("class") != "tg-spoiler":
                raise self.error(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {tag.byte_offset}'
                )
        elif tag.name == "tg-emoji":
            tag.argument = attrs.get("emoji-id", "")
        elif tag.name == "tg-time":
            tag.argument = attrs.get("unix", "")

    def end_tag(self, begin: int) -> int:
        text, i = self.text, begin + 2
        if not self.stack:
            raise self.error(f"Unexpected end tag at byte offset {self.byte(begin)}")
        while _at(text, i) not in _SPACES and _at(text, i) != ">":
            i += 1
        end_name = text[begin + 2 : i]
        while _at(text, i) != "\0" and _at(text, i) in _SPACES:
            i += 1
        if _at(text, i) != ">":
            raise self.error(f"Unclosed end tag at byte offset {self.byte(begin)}")
        tag = self.stack[-1]
        if end_name and end_name != tag.name:
            raise self.error(
                f'Unmatched end tag at byte offset {self.byte(begin)}, expected "</{tag.name}>", '
                f'found "</{end_name}>"'
            )
        self.close(tag)
        self.stack.pop()
        return i + 1

    def close(self, tag: _OpenTag) -> None:
        length = self.out.utf16 - tag.utf16_start
        if tag.name == "a" and not tag.argument and self.strict:
            raise self.error(f'Tag "a" must have attribute "href" at byte offset {tag.byte_offset}')
        if tag.name == "tg-emoji" and not tag.argument.isdigit():
            raise self.error("Invalid custom emoji identifier specified")
        if tag.name == "tg-time" and not tag.argument.lstrip("-").isdigit():
            raise self.error("Invalid Unix time specified")
        if length <= 0:
            return  # Telegram drops empty entities silently.
        start = tag.utf16_start
        if tag.name in _HTML_SIMPLE:
            self.entities.append(_entity(_HTML_SIMPLE[tag.name], start, length))
        elif tag.name == "a":
            url = tag.argument or self.out.since(tag.out_start)
            self.entities.append(_entity("text_link", start, length, url=url))
        elif tag.name == "code":
            self.close_code(tag, length)
        elif tag.name == "pre":
            self.close_pre(tag, length)
        elif tag.name == "blockquote":
            kind = "expandable_blockquote" if "expandable" in tag.attributes else "blockquote"
            self.entities.append(_entity(kind, start, length))
        elif tag.name == "tg-emoji":
            self.entities.append(
                _entity("custom_emoji", start, length, custom_emoji_id=tag.argument)
            )
        else:  # tg-time
            extra: JSONDict = {"unix_time": int(tag.argument)}
            if fmt := tag.attributes.get("format"):
                extra["date_time_format"] = fmt
            self.entities.append(_entity("date_time", start, length, **extra))

    def close_code(self, tag: _OpenTag, length: int) -> None:
        code = _entity("code", tag.utf16_start, length)
        parent = self.stack[-2] if len(self.stack) >= 2 else None
        if tag.argument and parent is not None and parent.name == "pre":
            code["_language"] = tag.argument  # consumed by the enclosing <pre>
        self.entities.append(code)

    def close_pre(self, tag: _OpenTag, length: int) -> None:
        pre = _entity("pre", tag.utf16_start, length)
        last = self.entities[-1] if self.entities else None
        if (
            last is not None
            and last["type"] == "code"
            and (last["offset"], last["length"]) == (tag.utf16_start, length)
        ):
            # <pre><code class="language-x">: one pre entity with a language.
            self.entities.pop()
            if language := last.get("_language"):
                pre["language"] = language
        self.entities.append(pre)


def parse_html(text: str, *, strict: bool = True) -> FormattedText:
    """Parse Telegram HTML; raises :class:`ApiError` 400 ``can't parse entities``."""
    return _HtmlParser(text, strict=strict).run()


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
# tdlib's names for entity types, as they appear in its error messages.
_TDLIB_TYPE_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "text_link": "TextUrl",
    "code": "Code", "pre": "Pre", "custom_emoji": "CustomEmoji",
}  # fmt: skip


@dataclass
class _MdOpen:
    kind: str
    byte_offset: int
    utf16_start: int
    out_start: int
    language: str = ""


class _MarkdownV2Parser:
    """tdlib's ``parse_markdown_v2`` on Python strings (blockquotes simplified)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.out = _TextBuilder()
        self.stack: list[_MdOpen] = []
        self.entities: list[JSONDict] = []
        self.quote: _MdOpen | None = None
        self.quote_end = 0

    def reserved_error(self, char: str) -> ApiError:
        return _cant_parse(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )

    def in_code(self) -> bool:
        return bool(self.stack) and self.stack[-1].kind in ("code", "pre")

    def run(self) -> FormattedText:
        text, i = self.text, 0
        while i < len(text):
            char = text[i]
            if char == "\\" and 0 < ord(_at(text, i + 1)) <= 126 and i + 1 < len(text):
                self.out.emit(text[i + 1])
                i += 2
                continue
            if not self.in_code() and (i == 0 or text[i - 1] == "\n"):
                after_marker = self.line_start(i)
                if after_marker != i:
                    i = after_marker
                    continue
            if char == "\n" and self.quote is not None:
                self.quote_end = self.out.utf16
            reserved = "`" if self.in_code() else _MDV2_RESERVED
            if char not in reserved:
                self.out.emit(char)
                i += 1
            elif self.closes_top(i):
                i = self.close(i)
            else:
                i = self.open(i)
        self.close_quote(self.out.utf16)
        if self.stack:
            top = self.stack[-1]
            name = _TDLIB_TYPE_NAMES[top.kind] if not top.language else "PreCode"
            raise _cant_parse(f"Can't find end of {name} entity at byte offset {top.byte_offset}")
        return FormattedText(self.out.text(), _sorted_entities(self.entities))

    def line_start(self, i: int) -> int:
        """Handle '>' (and '**>') blockquote markers at the start of a line."""
        text = self.text
        if text.startswith("**>", i) and self.quote is None:
            self.quote = _MdOpen("expandable_blockquote", 0, self.out.utf16, len(self.out))
            return i + 3
        if text[i] == ">":
            if self.quote is None:
                self.quote = _MdOpen("blockquote", 0, self.out.utf16, len(self.out))
            return i + 1
        self.close_quote(self.quote_end)
        return i

    def close_quote(self, end: int) -> None:
        if self.quote is not None and end > self.quote.utf16_start:
            self.entities.append(
                _entity(self.quote.kind, self.quote.utf16_start, end - self.quote.utf16_start)
            )
        self.quote = None

    def closes_top(self, i: int) -> bool:
        if not self.stack:
            return False
        text, kind = self.text, self.stack[-1].kind
        nxt = _at(text, i + 1)
        return {
            "bold": text[i] == "*",
            "italic": text[i] == "_" and nxt != "_",
            "code": text[i] == "`",
            "pre": text.startswith("```", i),
            "text_link": text[i] == "]",
            "custom_emoji": text[i] == "]",
            "underline": text.startswith("__", i),
            "strikethrough": text[i] == "~",
            "spoiler": text.startswith("||", i),
        }[kind]

    def open(self, i: int) -> int:
        text, char, begin = self.text, self.text[i], i
        language = ""
        if char == "_":
            kind, i = ("underline", i + 2) if text.startswith("__", i) else ("italic", i + 1)
        elif char in "*~[":
            kind, i = {"*": "bold", "~": "strikethrough", "[": "text_link"}[char], i + 1
        elif text.startswith("||", i):
            if (
                self.quote is not None
                and self.quote.kind == "expandable_blockquote"
                and (_at(text, i + 2) in "\n\0")
            ):
                return i + 2  # the '||' that ends an expandable blockquote
            kind, i = "spoiler", i + 2
        elif text.startswith("![", i):
            kind, i = "custom_emoji", i + 2
        elif text.startswith("```", i):
            kind = "pre"
            language, i = _pre_language(text, i + 3)
        elif char == "`":
            kind, i = "code", i + 1
        else:
            raise self.reserved_error(char)
        self.stack.append(
            _MdOpen(kind, _byte_offset(text, begin), self.out.utf16, len(self.out), language)
        )
        return i

    def close(self, i: int) -> int:
        top = self.stack.pop()
        length = self.out.utf16 - top.utf16_start
        extra: JSONDict = {}
        if top.kind in ("underline", "spoiler"):
            i += 2
        elif top.kind == "pre":
            i += 3
            if top.language:
                extra["language"] = top.language
        elif top.kind == "text_link":
            url, i = self.link_url(top, i + 1)
            extra["url"] = url
        elif top.kind == "custom_emoji":
            url, i = self.link_url(top, i + 1)
            emoji_id = url.removeprefix("tg://emoji?id=")
            if not url.startswith("tg://emoji?id=") or not emoji_id.isdigit():
                raise _cant_parse("Custom emoji entity must contain a tg://emoji URL")
            extra["custom_emoji_id"] = emoji_id
        else:
            i += 1
        if length > 0:
            self.entities.append(_entity(top.kind, top.utf16_start, length, **extra))
        return i

    def link_url(self, top: _MdOpen, i: int) -> tuple[str, int]:
        text = self.text
        if _at(text, i) != "(":
            return self.out.since(top.out_start), i
        i += 1
        url_begin = i
        url: list[str] = []
        while i < len(text) and text[i] != ")":
            if text[i] == "\\" and 0 < ord(_at(text, i + 1)) <= 126 and i + 1 < len(text):
                url.append(text[i + 1])
                i += 2
            else:
                url.append(text[i])
                i += 1
        if i >= len(text):
            offset = _byte_offset(text, url_begin)
            raise _cant_parse(f"Can't find end of a URL at byte offset {offset}")
        return "".join(url), i + 1


def _pre_language(text: str, i: int) -> tuple[str, int]:
    """After an opening ``` fence: the language (if any) and where the code starts."""
    end = i
    while _at(text, end) not in _SPACES and _at(text, end) != "`":
        end += 1
    language = ""
    if end != i and end < len(text) and text[end] != "`":
        language, i = text[i:end], end
    # One newline right after the opening fence is not part of the code.
    if _at(text, i) in "\r\n":
        pair = _at(text, i + 1) in "\r\n" and _at(text, i + 1) != text[i]
        i += 2 if pair else 1
    return language, i


def parse_markdown_v2(text: str) -> FormattedText:
    """Parse MarkdownV2; unescaped reserved characters raise Telegram's 400."""
    return _MarkdownV2Parser(text).run()


def parse_markdown(text: str) -> FormattedText:
    """Parse legacy ``Markdown`` (tdlib's ``parse_markdown``)."""
    out, i = _TextBuilder(), 0
    entities: list[JSONDict] = []
    while i < len(text):
        char = text[i]
        if char == "\\" and _at(text, i + 1) in "_*`[" and i + 1 < len(text):
            out.emit(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.emit(char)
            i += 1
            continue
        begin, i, language = i, i + 1, ""
        end_char = "]" if char == "[" else char
        is_pre = char == "`" and text.startswith("``", i)
        if is_pre:
            language, i = _pre_language(text, i + 2)
        start, out_start = out.utf16, len(out)
        while i < len(text) and (text[i] != end_char or (is_pre and not text.startswith("```", i))):
            out.emit(text[i])
            i += 1
        if i >= len(text):
            raise _cant_parse(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        i += 3 if is_pre else 1
        extra: JSONDict = {}
        if char == "[":
            url = out.since(out_start)
            if _at(text, i) == "(" and (close := text.find(")", i)) != -1:
                url, i = text[i + 1 : close], close + 1
            extra["url"] = url
        if language:
            extra["language"] = language
        kind = {"_": "italic", "*": "bold", "[": "text_link"}.get(char) or (
            "pre" if is_pre else "code"
        )
        if out.utf16 > start:
            entities.append(_entity(kind, start, out.utf16 - start, **extra))
    return FormattedText(out.text(), _sorted_entities(entities))


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
    for index, entity in enumerate(entities):
        if not isinstance(entity, dict) or entity.get("type") not in _ENTITY_TYPES:
            raise bad_request(f"can't parse MessageEntity #{index}: unsupported type specified")
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 1:
            raise _cant_parse(f"entity #{index} has invalid offset or length")
        if offset + length > total:
            raise _cant_parse(
                f"entity #{index} ends at UTF-16 offset {offset + length}, "
                f"beyond the end of the text ({total})"
            )
        required = _ENTITY_REQUIRED.get(entity["type"])
        if required and required not in entity:
            raise bad_request(f'can\'t parse MessageEntity #{index}: field "{required}" is missing')
        checked.append(dict(entity))
    return _sorted_entities(checked)


_TRIMMED = " \t\n\r\v\f"


def _trim(formatted: FormattedText) -> FormattedText:
    """Drop leading/trailing whitespace as Telegram does, shifting entities with it."""
    text = formatted.text
    stripped = text.strip(_TRIMMED)
    if stripped == text:
        return formatted
    lead = utf16_len(text[: len(text) - len(text.lstrip(_TRIMMED))])
    size = utf16_len(stripped)
    entities = []
    for entity in formatted.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return FormattedText(stripped, entities)


def _strip_private_keys(entities: list[JSONDict]) -> list[JSONDict]:
    return [{k: v for k, v in e.items() if not k.startswith("_")} for e in entities]


def format_message_text(
    text: str, parse_mode: str | None, entities: Any, *, strict_html: bool = True
) -> FormattedText:
    """Apply ``parse_mode`` or ``entities`` to ``text`` and trim, as ``sendMessage`` does."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        formatted = parse_html(text, strict=strict_html)
    elif mode == "markdownv2":
        formatted = parse_markdown_v2(text)
    elif mode == "markdown":
        formatted = parse_markdown(text)
    elif mode:
        raise bad_request("unsupported parse_mode")
    elif entities is not None:
        formatted = FormattedText(text, check_entities(text, entities))
    else:
        formatted = FormattedText(text)
    return _trim(formatted)


# --------------------------------------------------------------------------
# Time and flood control


class ManualClock:
    """A clock that moves only when told to: flood tests without waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's send budgets; ``None`` lifts a limit.

    ``chat_rate``/``chat_burst``: a token bucket per chat (every chat).
    ``group_limit`` per ``group_window`` s: a sliding window per group chat (id < 0).
    ``global_limit`` per ``global_window`` s: a sliding window over every chat.
    """

    chat_rate: float | None = 1.0
    chat_burst: int = 3
    group_limit: int | None = 20
    group_window: float = 60.0
    global_limit: int | None = 30
    global_window: float = 1.0

    @classmethod
    def off(cls) -> FloodLimits:
        return cls(chat_rate=None, group_limit=None, global_limit=None)


class _TokenBucket:
    def __init__(self, burst: int, now: float) -> None:
        self.tokens = float(burst)
        self.updated = now

    def refill(self, now: float, rate: float, burst: int) -> None:
        self.tokens = min(float(burst), self.tokens + (now - self.updated) * rate)
        self.updated = now

    def wait(self, now: float, rate: float, burst: int) -> float:
        self.refill(now, rate, burst)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / rate

    def take(self) -> None:
        self.tokens -= 1


class _SlidingWindow:
    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def wait(self, now: float, limit: int, window: float) -> float:
        while self.times and self.times[0] <= now - window:
            self.times.popleft()
        if len(self.times) < limit:
            return 0.0
        return self.times[len(self.times) - limit] + window - now

    def add(self, now: float) -> None:
        self.times.append(now)


class FloodControl:
    """Decides whether a send is allowed now; refusals put the chat under a penalty."""

    def __init__(self, limits: FloodLimits | None = None) -> None:
        self.limits = limits or FloodLimits()
        self.reset()

    def reset(self) -> None:
        self._buckets: dict[int, _TokenBucket] = {}
        self._groups: dict[int, _SlidingWindow] = {}
        self._global = _SlidingWindow()
        self._penalties: dict[int, float] = {}

    def set_limits(self, limits: FloodLimits) -> None:
        self.limits = limits
        self.reset()

    def penalty_until(self, chat_id: int) -> float | None:
        return self._penalties.get(chat_id)

    def admit(self, chat_id: int, now: float) -> int | None:
        """Spend one send for ``chat_id``; return ``retry_after`` seconds if refused."""
        until = self._penalties.get(chat_id, 0.0)
        if until > now:
            # Telegram keeps answering 429 until the announced time has passed.
            return _whole_seconds(until - now)
        wait = max(self._waits(chat_id, now), default=0.0)
        if wait > 0:
            retry_after = _whole_seconds(wait)
            self._penalties[chat_id] = now + retry_after
            return retry_after
        self._spend(chat_id, now)
        return None

    def _waits(self, chat_id: int, now: float) -> Iterator[float]:
        limits = self.limits
        if limits.chat_rate is not None:
            bucket = self._buckets.setdefault(chat_id, _TokenBucket(limits.chat_burst, now))
            yield bucket.wait(now, limits.chat_rate, limits.chat_burst)
        if limits.group_limit is not None and chat_id < 0:
            window = self._groups.setdefault(chat_id, _SlidingWindow())
            yield window.wait(now, limits.group_limit, limits.group_window)
        if limits.global_limit is not None:
            yield self._global.wait(now, limits.global_limit, limits.global_window)

    def _spend(self, chat_id: int, now: float) -> None:
        if chat_id in self._buckets and self.limits.chat_rate is not None:
            self._buckets[chat_id].take()
        if chat_id in self._groups and self.limits.group_limit is not None:
            self._groups[chat_id].add(now)
        self._global.add(now)


def _whole_seconds(seconds: float) -> int:
    # Rounding first keeps float noise (1.0000000002) from becoming an extra second.
    return max(1, math.ceil(round(seconds, 6)))


# --------------------------------------------------------------------------
# Scripted failures

FailureKind = Literal["retry_after", "server_error", "slow", "drop", "error"]

_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Failure:
    """What to do instead of (or before) answering a call; build with the classmethods."""

    kind: FailureKind
    retry_after: int = 0
    status: int = 0
    description: str = ""
    parameters: JSONDict | None = None
    delay: float = 0.0
    html: bool = False
    after_processing: bool = False

    @classmethod
    def too_many_requests(cls, retry_after: int) -> Failure:
        """429 ``Too Many Requests: retry after N`` with ``parameters.retry_after``."""
        return cls("retry_after", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, *, html: bool = False) -> Failure:
        """5xx with Telegram's JSON body, or (``html=True``) nginx's HTML page as seen on 502."""
        return cls("server_error", status=status, html=html)

    @classmethod
    def slow(cls, delay: float) -> Failure:
        """Wait ``delay`` seconds, then handle the call normally (it takes effect)."""
        return cls("slow", delay=delay)

    @classmethod
    def drop(cls, *, after_processing: bool = False) -> Failure:
        """Close the connection without answering, before or after the call takes effect."""
        return cls("drop", after_processing=after_processing)

    @classmethod
    def error(cls, status: int, description: str, parameters: JSONDict | None = None) -> Failure:
        """Any error answer, e.g. ``Failure.error(403, "Forbidden: bot was kicked")``."""
        return cls("error", status=status, description=description, parameters=parameters)

    @classmethod
    def from_json(cls, data: JSONDict) -> Failure:
        """Build from the control API's JSON (``{"kind": "slow", "delay": 2}`` ...)."""
        return msgspec.convert(data, cls)


@dataclass
class _ScriptedFailure:
    method: str
    failure: Failure
    remaining: int
    chat_id: int | None

    def matches(self, method: str, params: Params) -> bool:
        if self.method != method.lower() or self.remaining <= 0:
            return False
        return self.chat_id is None or str(params.raw.get("chat_id")) == str(self.chat_id)


# --------------------------------------------------------------------------
# Records


@dataclass
class Call:
    """One Bot API call as the fake saw and answered it.

    ``status`` is None for a dropped connection; ``body`` is the JSON answer
    (a dict), the raw text for non-JSON answers, or None when dropped.
    """

    seq: int
    method: str
    params: JSONDict
    started: float
    finished: float = 0.0
    status: int | None = None
    body: Any = None
    chat_id: int | None = None
    source: str = "http"

    @property
    def ok(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("ok") is True

    @property
    def result(self) -> Any:
        return self.body.get("result") if isinstance(self.body, dict) else None

    @property
    def description(self) -> str | None:
        return self.body.get("description") if isinstance(self.body, dict) else None

    @property
    def retry_after(self) -> int | None:
        if not isinstance(self.body, dict):
            return None
        value = (self.body.get("parameters") or {}).get("retry_after")
        return int(value) if value is not None else None


@dataclass
class Draft:
    draft_id: int
    text: str
    entities: list[JSONDict]
    time: float


@dataclass
class ChatAction:
    action: str
    time: float


@dataclass
class ChatState:
    """One chat as its user sees it."""

    id: int
    info: JSONDict
    blocked: bool = False
    messages: dict[int, JSONDict] = field(default_factory=dict)
    deleted: list[JSONDict] = field(default_factory=list)
    edits: list[JSONDict] = field(default_factory=list)
    drafts: dict[int, Draft] = field(default_factory=dict)
    draft_history: list[Draft] = field(default_factory=list)
    actions: list[ChatAction] = field(default_factory=list)
    keyboard: JSONDict | None = None
    """The reply keyboard the user's client shows: the last ``ReplyKeyboardMarkup`` the bot
    sent here, until a ``ReplyKeyboardRemove`` (a reply keyboard is not part of the message)."""
    not_editable: set[int] = field(default_factory=set)
    """Bot messages sent with a reply keyboard, a removal or a force reply: Telegram edits
    only messages without ``reply_markup`` or with an inline keyboard."""
    last_message_id: int = 0

    @property
    def type(self) -> str:
        return str(self.info["type"])

    @property
    def is_private(self) -> bool:
        return self.id > 0

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id

    @property
    def sent(self) -> list[JSONDict]:
        """Messages the bot sent, edits applied, in order."""
        return [m for m in self.messages.values() if m.get("from", {}).get("is_bot")]

    @property
    def texts(self) -> list[str]:
        return [str(m.get("text", "")) for m in self.sent]

    @property
    def transcript(self) -> list[JSONDict]:
        """Every message still in the chat, the user's and the bot's."""
        return list(self.messages.values())

    def to_json(self) -> JSONDict:
        return {
            "chat": self.info,
            "blocked": self.blocked,
            "messages": self.transcript,
            "drafts": [msgspec.to_builtins(d) for d in self.drafts.values()],
            "actions": [msgspec.to_builtins(a) for a in self.actions],
            "keyboard": self.keyboard,
        }


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class WebhookDelivery:
    """One POST of an update to the webhook, with what came back."""

    update_id: int
    url: str
    time: float
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# --------------------------------------------------------------------------
# Parameters


class Params:
    """A call's parameters: strings from forms, typed values from JSON; both accepted.

    Typed reads are remembered in ``decoded`` so the call record shows them.
    """

    def __init__(self, raw: JSONDict) -> None:
        self.raw = raw
        self.decoded: JSONDict = dict(raw)

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        return None if value is None else str(value)

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Integer') from None
        self.decoded[name] = number
        return number

    def number(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Float') from None

    def boolean(self, name: str) -> bool:
        value = self.raw.get(name)
        result = value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
        if value is not None:
            self.decoded[name] = result
        return result

    def json(self, name: str) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                value = _decode(value)
            except msgspec.DecodeError:
                raise bad_request(f"can't parse {name} JSON object") from None
        if value is not None:
            self.decoded[name] = value
        return value

    def chat_id(self) -> int:
        value = self.raw.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            # "@channelusername": the fake knows no public usernames.
            raise bad_request("chat not found") from None
        if chat_id == 0:
            raise bad_request("chat not found")
        self.decoded["chat_id"] = chat_id
        return chat_id


# --------------------------------------------------------------------------
# Method registry

Handler = Callable[["FakeTelegram", Params], Awaitable[Any]]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    handler: Handler


METHODS: dict[str, MethodSpec] = {}


def bot_method(name: str) -> Callable[[Handler], Handler]:
    """Register a Bot API method handler under ``name`` (matched case-insensitively).

    A handler gets the fake and the call's :class:`Params`, returns the
    ``result`` value, and raises :class:`ApiError` to answer an error. It
    should call :meth:`FakeTelegram.admit_send` before taking effect if
    Telegram counts it against the send budget.
    """

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = MethodSpec(name, handler)
        return handler

    return register


DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "inline_query", "chosen_inline_result",
        "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media",
        "poll", "poll_answer", "my_chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost",
    }
)  # fmt: skip
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


@bot_method("getMe")
async def get_me(fake: FakeTelegram, params: Params) -> Any:
    return fake.bot_user


@bot_method("getUpdates")
async def get_updates(fake: FakeTelegram, params: Params) -> Any:
    if fake.webhook is not None:
        raise ApiError(409, CONFLICT_WEBHOOK)
    offset = params.integer("offset")
    limit = min(max(params.integer("limit") or 100, 1), 100)
    timeout = max(params.integer("timeout") or 0, 0)
    if params.has("allowed_updates"):
        fake.set_allowed_updates(params.json("allowed_updates"))
    if offset is not None:
        fake.confirm_updates(offset)
    return await fake.long_poll(limit, timeout)


@bot_method("setWebhook")
async def set_webhook(fake: FakeTelegram, params: Params) -> Any:
    url = params.string("url") or ""
    secret = params.string("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    if url and not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: Invalid URL specified")
    if params.has("allowed_updates"):
        fake.set_allowed_updates(params.json("allowed_updates"))
    if params.boolean("drop_pending_updates"):
        fake.drop_pending_updates()
    max_connections = params.integer("max_connections") or 40
    fake.set_webhook(WebhookConfig(url, secret, max_connections) if url else None)
    return True


@bot_method("deleteWebhook")
async def delete_webhook(fake: FakeTelegram, params: Params) -> Any:
    if params.boolean("drop_pending_updates"):
        fake.drop_pending_updates()
    fake.set_webhook(None)
    return True


@bot_method("getWebhookInfo")
async def get_webhook_info(fake: FakeTelegram, params: Params) -> Any:
    hook = fake.webhook
    info: JSONDict = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(fake.pending_updates),
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    if fake.allowed_updates is not None:
        info["allowed_updates"] = sorted(fake.allowed_updates)
    return info


@bot_method("sendMessage")
async def send_message(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    formatted = fake.format_text(params)
    markup = _reply_markup(params)
    reply_to = _reply_to(fake, chat_id, params)
    fake.admit_send(chat_id)
    return fake.post_bot_message(chat_id, formatted, reply_markup=markup, reply_to=reply_to)


@bot_method("editMessageText")
async def edit_message_text(fake: FakeTelegram, params: Params) -> Any:
    if params.has("inline_message_id"):
        raise bad_request("message to edit not found")
    chat_id = params.chat_id()
    message_id = params.integer("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = fake.chat(chat_id).messages.get(message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if not message.get("from", {}).get("is_bot") or message_id in fake.chat(chat_id).not_editable:
        raise bad_request("message can't be edited")
    formatted = fake.format_text(params)
    markup = _reply_markup(params)
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    unchanged = (
        message.get("text") == formatted.text
        and message.get("entities", []) == formatted.entities
        and message.get("reply_markup") == markup
    )
    if unchanged:
        raise bad_request(NOT_MODIFIED)
    fake.admit_send(chat_id)
    return fake.edit_bot_message(chat_id, message_id, formatted, reply_markup=markup)


@bot_method("deleteMessage")
async def delete_message(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    message_id = params.integer("message_id")
    chat = fake.chat(chat_id)
    if message_id is None or message_id not in chat.messages:
        raise bad_request("message to delete not found")
    chat.deleted.append(chat.messages.pop(message_id))
    fake.notify()
    return True


@bot_method("sendChatAction")
async def send_chat_action(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    action = params.string("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    fake.check_not_blocked(chat_id)
    fake.chat(chat_id).actions.append(ChatAction(action, fake.clock()))
    fake.notify()
    return True


@bot_method("sendMessageDraft")
async def send_message_draft(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    draft_id = params.integer("draft_id")
    if not draft_id:
        raise bad_request("draft_id must be non-zero")
    if chat_id < 0:
        raise bad_request("TEXTDRAFT_PEER_INVALID")
    formatted = fake.format_text(params, allow_empty=True)
    fake.admit_send(chat_id)
    draft = Draft(draft_id, formatted.text, formatted.entities, fake.clock())
    chat = fake.chat(chat_id)
    chat.drafts[draft_id] = draft
    chat.draft_history.append(draft)
    fake.notify()
    return True


@bot_method("answerCallbackQuery")
async def answer_callback_query(fake: FakeTelegram, params: Params) -> Any:
    query_id = params.string("callback_query_id")
    if not query_id or query_id not in fake.open_callback_queries:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.string("text") or ""
    if len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    fake.open_callback_queries.discard(query_id)
    fake.callback_answers.append(
        {"callback_query_id": query_id, "text": text, "show_alert": params.boolean("show_alert")}
    )
    fake.notify()
    return True


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope")
    language = params.string("language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    return _encode(dict(sorted(scope.items()))).decode(), language


@bot_method("setMyCommands")
async def set_my_commands(fake: FakeTelegram, params: Params) -> Any:
    commands = params.json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand")
        if not _COMMAND.fullmatch(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("command description must be non-empty")
    fake.commands[_commands_key(params)] = [dict(c) for c in commands]
    return True


@bot_method("getMyCommands")
async def get_my_commands(fake: FakeTelegram, params: Params) -> Any:
    return fake.commands.get(_commands_key(params), [])


@bot_method("deleteMyCommands")
async def delete_my_commands(fake: FakeTelegram, params: Params) -> Any:
    fake.commands.pop(_commands_key(params), None)
    return True


def _reply_markup(params: Params) -> JSONDict | None:
    markup = params.json("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "keyboard" in markup:
        _check_reply_keyboard(markup["keyboard"])
        return markup
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard markup JSON object")
    for button in itertools.chain.from_iterable(rows):
        _check_inline_button(button)
    return markup


def _check_reply_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for button in itertools.chain.from_iterable(rows):
        text = button if isinstance(button, str) else None
        if isinstance(button, dict):
            text = button.get("text")
        if not isinstance(text, str) or not text:
            raise bad_request("can't parse keyboard button: Text must be non-empty")


_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    if not any(key in button for key in _BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= 64:
        raise bad_request("BUTTON_DATA_INVALID")


def _reply_to(fake: FakeTelegram, chat_id: int, params: Params) -> JSONDict | None:
    reply = params.json("reply_parameters")
    legacy = params.integer("reply_to_message_id")
    if reply is None and legacy is None:
        return None
    if reply is None:
        reply = {"message_id": legacy}
    if not isinstance(reply, dict):
        raise bad_request("can't parse reply parameters JSON object")
    target = fake.chat(chat_id).messages.get(int(reply.get("message_id") or 0))
    if target is None and not reply.get("allow_sending_without_reply"):
        raise bad_request("message to be replied not found")
    return copy.deepcopy(target) if target is not None else None


# --------------------------------------------------------------------------
# The server


@dataclass
class _Poll:
    superseded: bool = False


def _update_type(update: JSONDict) -> str | None:
    return next((key for key in update if key != "update_id"), None)


_Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


class FakeTelegram:
    """The fake Bot API server: ``async with FakeTelegram() as fake: ...``.

    State a test reads: :attr:`calls`, :attr:`chats` (see :class:`ChatState`),
    :attr:`pending_updates`, :attr:`webhook`, :attr:`webhook_deliveries`,
    :attr:`callback_answers`, :attr:`commands`, :attr:`throttled`.
    ``clock`` (monotonic by default, :class:`ManualClock` in flood tests) times
    the flood limits and the records; waits for events use the event loop.
    ``routes`` are served beside the Bot API and the control API (the
    sandbox's web page), before the catch-all 404.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_name: str = "Fake Bot",
        bot_username: str = "fake_test_bot",
        flood_limits: FloodLimits | None = None,
        clock: Clock = time.monotonic,
        strict_html: bool = True,
        first_update_id: int = 100_000_001,
        webhook_retry_delay: float = 0.05,
        webhook_retry_max_delay: float = 2.0,
        webhook_timeout: float = 10.0,
        routes: Sequence[web.AbstractRouteDef] = (),
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("token must look like '<digits>:<secret>'")
        self.token = token
        self.host = host
        self.port = port
        self.clock = clock
        self.strict_html = strict_html
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_retry_max_delay = webhook_retry_max_delay
        self.webhook_timeout = webhook_timeout
        self.bot_user: JSONDict = {
            "id": int(bot_id), "is_bot": True, "first_name": bot_name, "username": bot_username,
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }  # fmt: skip
        self.flood = FloodControl(flood_limits)
        self.methods: dict[str, MethodSpec] = dict(METHODS)

        self.calls: list[Call] = []
        self.chats: dict[int, ChatState] = {}
        self.users: dict[int, JSONDict] = {}
        self.pending_updates: list[JSONDict] = []
        self.filtered_updates: list[JSONDict] = []
        self.allowed_updates: frozenset[str] | None = None
        self.webhook: WebhookConfig | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.callback_answers: list[JSONDict] = []
        self.open_callback_queries: set[str] = set()
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.version = 0

        self._update_ids = itertools.count(first_update_id)
        self._call_seq = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._failures: list[_ScriptedFailure] = []
        self._poll: _Poll | None = None
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._pusher: asyncio.Task[None] | None = None
        self._extra_routes = tuple(routes)
        self.app = self._make_app()

    # ---- lifecycle

    async def start(self) -> None:
        self._stopping.clear()
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._http = aiohttp.ClientSession()
        self._pusher = asyncio.create_task(self._webhook_loop(), name="fake-telegram-webhook")

    async def stop(self) -> None:
        """Stop serving: long polls, slow answers and webhook pushes end now."""
        self._stopping.set()
        self.notify()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL for ``TelegramAPIServer.from_base`` / ``TELEGRAM_API_URL``."""
        if self._runner is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def control_url(self) -> str:
        return self.url + CONTROL_PREFIX

    # ---- events

    def notify(self) -> None:
        """Wake every waiter (long polls, ``wait_for``); call after any change of state.

        A fresh Event per change acts as a broadcast condition that can be
        signalled from synchronous code (the ``inject_*`` API), which an
        ``asyncio.Condition`` cannot without holding its lock.
        """
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float | None) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    async def _sleep(self, seconds: float) -> None:
        """Sleep that ends early when the fake stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 5.0, *, what: str = ""
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{c.method}->{c.status}" for c in self.calls[-5:])
                raise TimeoutError(
                    f"FakeTelegram: {what or predicate!r} not true after {timeout}s "
                    f"(last calls: {recent or 'none'})"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def wait_for_messages(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Wait until the bot has ``count`` messages in ``chat_id``; return them all."""
        chat = self.chat(chat_id)
        return await self.wait_for(
            lambda: chat.sent if len(chat.sent) >= count else None,
            timeout,
            what=f"{count} bot message(s) in chat {chat_id}",
        )

    async def wait_for_call(
        self,
        method: str,
        *,
        count: int = 1,
        where: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
    ) -> Call:
        """Wait for the ``count``-th finished call of ``method`` (matching ``where``)."""

        def found() -> Call | None:
            matching = [c for c in self.calls_to(method) if where is None or where(c)]
            return matching[count - 1] if len(matching) >= count else None

        return await self.wait_for(found, timeout, what=f"call #{count} of {method}")

    async def wait_for_poller(self, timeout: float = 5.0) -> None:
        """Wait until a ``getUpdates`` long poll is waiting."""
        await self.wait_for(lambda: self._poll is not None, timeout, what="a getUpdates poller")

    async def wait_until_delivered(self, timeout: float = 5.0) -> None:
        """Wait until every queued update has been confirmed (offset or webhook 2xx)."""
        await self.wait_for(lambda: not self.pending_updates, timeout, what="no pending updates")

    # ---- records

    def calls_to(self, method: str) -> list[Call]:
        name = method.lower()
        return [c for c in self.calls if c.method.lower() == name]

    @property
    def throttled(self) -> list[Call]:
        """Every call answered 429, in order."""
        return [c for c in self.calls if c.status == 429]

    def chat(self, chat_id: int) -> ChatState:
        """The chat's state, created on first use (every chat id "exists")."""
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = ChatState(chat_id, self._chat_info(chat_id))
            self.chats[chat_id] = chat
        return chat

    def user(self, user_id: int) -> JSONDict:
        """The user with this id, made up on first use; edit the dict to rename."""
        return self.users.setdefault(
            user_id,
            {
                "id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                "username": f"user{user_id}", "language_code": "en",
            },
        )  # fmt: skip

    def _chat_info(self, chat_id: int) -> JSONDict:
        if chat_id > 0:
            user = self.user(chat_id)
            return {"id": chat_id, "type": "private", "first_name": user["first_name"],
                    "username": user["username"]}  # fmt: skip
        kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
        return {"id": chat_id, "type": kind, "title": f"Group {-chat_id}"}

    def block(self, chat_id: int, blocked: bool = True) -> None:
        """The chat's user blocks (or unblocks) the bot: sends get 403.

        As on Telegram, the bot is told with a ``my_chat_member`` update
        (status ``kicked`` / ``member``) in private chats.
        """
        chat = self.chat(chat_id)
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        self.notify()
        if chat.is_private:
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            self.inject_update({"my_chat_member": self._member_change(chat, old, new)})

    def _member_change(self, chat: ChatState, old: str, new: str) -> JSONDict:
        def member(status: str) -> JSONDict:
            extra = {"until_date": 0} if status == "kicked" else {}
            return {"status": status, "user": self.bot_user, **extra}

        return {
            "chat": chat.info,
            "from": self.user(_default_user_id(chat.id)),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    # ---- configuration

    def set_flood_limits(self, limits: FloodLimits) -> None:
        self.flood.set_limits(limits)

    def lift_flood_limits(self) -> None:
        self.flood.set_limits(FloodLimits.off())

    def fail_next(
        self, method: str, failure: Failure, *, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (for ``chat_id``) with ``failure``."""
        self._failures.append(_ScriptedFailure(method.lower(), failure, times, chat_id))

    def clear_failures(self) -> None:
        self._failures.clear()

    @property
    def failures_left(self) -> int:
        """Scripted failures not yet used up (a call that takes one is under way or done)."""
        return sum(scripted.remaining for scripted in self._failures)

    def add_method(self, name: str, handler: Handler) -> None:
        """Serve one more method on this instance only (see :func:`bot_method`)."""
        self.methods[name.lower()] = MethodSpec(name, handler)

    # ---- building blocks for method handlers

    def format_text(self, params: Params, *, allow_empty: bool = False) -> FormattedText:
        """``text`` + ``parse_mode``/``entities`` parsed, checked for 1-4096 UTF-16 units."""
        formatted = format_message_text(
            params.string("text") or "",
            params.string("parse_mode"),
            params.json("entities"),
            strict_html=self.strict_html,
        )
        if not formatted.text and not allow_empty:
            raise bad_request("message text is empty")
        if utf16_len(formatted.text) > MAX_TEXT_UTF16:
            raise bad_request("message is too long")
        return formatted

    def check_not_blocked(self, chat_id: int) -> None:
        if self.chat(chat_id).blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def admit_send(self, chat_id: int) -> None:
        """403 if blocked, 429 if over a flood limit; otherwise spend one send."""
        self.check_not_blocked(chat_id)
        retry_after = self.flood.admit(chat_id, self.clock())
        if retry_after is not None:
            raise too_many_requests(retry_after)

    def post_bot_message(
        self,
        chat_id: int,
        formatted: FormattedText,
        *,
        reply_markup: JSONDict | None = None,
        reply_to: JSONDict | None = None,
    ) -> JSONDict:
        """Store a message from the bot and return the Message object Telegram returns."""
        chat = self.chat(chat_id)
        message: JSONDict = {
            "message_id": chat.next_message_id(),
            "from": self.bot_user,
            "chat": chat.info,
            "date": int(time.time()),
            "text": formatted.text,
        }
        if formatted.entities:
            message["entities"] = formatted.entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if reply_markup is not None and "inline_keyboard" in reply_markup:
            message["reply_markup"] = reply_markup
        elif reply_markup is not None:
            chat.not_editable.add(message["message_id"])
            if "keyboard" in reply_markup:
                chat.keyboard = copy.deepcopy(reply_markup)
            elif reply_markup.get("remove_keyboard"):
                chat.keyboard = None
        chat.messages[message["message_id"]] = copy.deepcopy(message)
        chat.drafts.clear()  # a sent message replaces the drafts on screen
        self.notify()
        return message

    def edit_bot_message(
        self,
        chat_id: int,
        message_id: int,
        formatted: FormattedText,
        *,
        reply_markup: JSONDict | None,
    ) -> JSONDict:
        chat = self.chat(chat_id)
        stored = chat.messages[message_id]
        chat.edits.append(copy.deepcopy(stored))
        stored.update(text=formatted.text, edit_date=int(time.time()))
        stored.pop("entities", None)
        stored.pop("reply_markup", None)
        if formatted.entities:
            stored["entities"] = formatted.entities
        if reply_markup is not None and "inline_keyboard" in reply_markup:
            stored["reply_markup"] = reply_markup
        self.notify()
        return copy.deepcopy(stored)

    # ---- updates: injection, confirmation, long polling

    def inject_update(self, update: JSONDict, *, assign_id: bool = True) -> JSONDict:
        """Queue a raw update (fuzzing welcome); ``update_id`` is assigned unless told not to.

        Like Telegram, updates of a type outside ``allowed_updates`` are not
        queued at all (they land in ``filtered_updates``).
        """
        update = dict(update)
        if assign_id:
            update["update_id"] = next(self._update_ids)
        elif not isinstance(update.get("update_id"), int):
            raise ValueError("a raw update kept as is needs an integer update_id")
        kind = _update_type(update)
        allowed = self.allowed_updates or DEFAULT_ALLOWED_UPDATES
        if kind is not None and kind not in allowed:
            self.filtered_updates.append(update)
        else:
            self.pending_updates.append(update)
        self.notify()
        return update

    def inject_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        entities: list[JSONDict] | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSONDict:
        """A user writes ``text`` in ``chat_id`` (private chat: user id = chat id)."""
        chat = self.chat(chat_id)
        sender = self.user(user_id if user_id is not None else _default_user_id(chat_id))
        message: JSONDict = {
            "message_id": chat.next_message_id(),
            "from": sender,
            "chat": chat.info,
            "date": int(time.time()),
            "text": text,
        }
        entities = entities if entities is not None else _command_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to_message_id is not None and reply_to_message_id in chat.messages:
            message["reply_to_message"] = copy.deepcopy(chat.messages[reply_to_message_id])
        chat.messages[message["message_id"]] = message
        return self.inject_update({"message": copy.deepcopy(message)})

    def inject_edited_message(self, chat_id: int, message_id: int, text: str) -> JSONDict:
        """The user edits one of their messages."""
        message = self.chat(chat_id).messages.get(message_id)
        if message is None or message.get("from", {}).get("is_bot"):
            raise KeyError(f"no user message {message_id} in chat {chat_id}")
        message.update(text=text, edit_date=int(time.time()))
        message.pop("entities", None)
        if entities := _command_entities(text):
            message["entities"] = entities
        return self.inject_update({"edited_message": copy.deepcopy(message)})

    def inject_callback_query(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
    ) -> JSONDict:
        """The user presses an inline button (default: on the bot's latest message)."""
        chat = self.chat(chat_id)
        if message_id is None:
            if not chat.sent:
                raise KeyError(f"the bot has no message in chat {chat_id}")
            message_id = chat.sent[-1]["message_id"]
        message = chat.messages[message_id]
        query_id = str(next(self._query_ids) * 1_000_003)
        self.open_callback_queries.add(query_id)
        query = {
            "id": query_id,
            "from": self.user(user_id if user_id is not None else _default_user_id(chat_id)),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(chat_id) * 7 + 1),
            "data": data,
        }
        return self.inject_update({"callback_query": query})

    def set_allowed_updates(self, allowed: Any) -> None:
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise bad_request("can't parse allowed_updates JSON object")
        # An empty list means "the default set", as on Telegram.
        self.allowed_updates = frozenset(allowed) if allowed else None

    def confirm_updates(self, offset: int) -> None:
        """Forget updates before ``offset``; a negative offset keeps only the last -offset."""
        if offset < 0:
            self.pending_updates = self.pending_updates[offset:]
        else:
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        self.notify()

    def drop_pending_updates(self) -> None:
        self.pending_updates.clear()
        self.notify()

    async def long_poll(self, limit: int, timeout: float) -> list[JSONDict]:
        """Answer ``getUpdates``: now if updates wait, else when one comes or time runs out."""
        if self._poll is not None:
            self._poll.superseded = True  # the older poller gets the 409
        poll = self._poll = _Poll()
        self.notify()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                if poll.superseded:
                    raise ApiError(409, CONFLICT_OTHER_POLLER)
                if self.webhook is not None:
                    raise ApiError(409, CONFLICT_WEBHOOK)
                remaining = deadline - asyncio.get_running_loop().time()
                if self.pending_updates or remaining <= 0 or self._stopping.is_set():
                    return copy.deepcopy(self.pending_updates[:limit])
                await self._wait_change(remaining)
        finally:
            if self._poll is poll:
                self._poll = None
                self.notify()

    # ---- webhook

    def set_webhook(self, config: WebhookConfig | None) -> None:
        self.webhook = config
        self.notify()

    async def _webhook_loop(self) -> None:
        delay = self.webhook_retry_delay
        while not self._stopping.is_set():
            hook = self.webhook
            if hook is None or not self.pending_updates:
                await self._wait_change(None)
                continue
            update = self.pending_updates[0]
            if await self._push(hook, update):
                self.pending_updates = [u for u in self.pending_updates if u is not update]
                self.notify()
                delay = self.webhook_retry_delay
            else:
                # Telegram retries with growing pauses until it gets a 2xx.
                await self._sleep(delay)
                delay = min(delay * 2, self.webhook_retry_max_delay)

    async def _push(self, hook: WebhookConfig, update: JSONDict) -> bool:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        status: int | None = None
        error: str | None = None
        reply: JSONDict | None = None
        try:
            async with self._http.post(
                hook.url,
                data=_encode(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                status = resp.status
                if 200 <= status < 300:
                    reply = await _read_webhook_reply(resp)
                else:
                    error = f"Wrong response from the webhook: {status} {resp.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"Connection failed: {type(exc).__name__}: {exc}"
        self.webhook_deliveries.append(
            WebhookDelivery(update["update_id"], hook.url, self.clock(), status, error)
        )
        if error is not None:
            hook.last_error_date, hook.last_error_message = int(time.time()), error
        self.notify()
        if reply is not None:
            # Telegram runs a method given in the webhook's answer body.
            await self._execute(str(reply.pop("method")), Params(reply), source="webhook-reply")
        return error is None

    # ---- HTTP: the Bot API

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[_control_errors])
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot)
        for method, path, handler in self._control_routes():
            app.router.add_route(method, CONTROL_PREFIX + path, handler)
        app.router.add_routes(self._extra_routes)
        app.router.add_route("*", "/{tail:.*}", _not_found)
        return app

    async def _handle_bot(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        call = self._begin_call(name, {}, "http")
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            spec = self.methods.get(name.lower())
            if spec is None:
                raise ApiError(404, "Not Found")
            call.method = spec.name
            params = Params(await _read_params(request))
            call.params = params.decoded
            failure = self._take_failure(spec.name, params)
            if failure is not None:
                early = await self._apply_failure(failure, request, call, spec, params)
                if early is not None:
                    return early
            status, body = await self._run(spec, params, call)
        except ApiError as exc:
            status, body = exc.status, exc.body()
        self._finish_call(call, status, body)
        return _json_response(status, body)

    async def _run(self, spec: MethodSpec, params: Params, call: Call) -> tuple[int, JSONDict]:
        with contextlib.suppress(ApiError):
            call.chat_id = params.chat_id() if params.has("chat_id") else None
        try:
            result = await spec.handler(self, params)
        except ApiError as exc:
            return exc.status, exc.body()
        return 200, {"ok": True, "result": result}

    async def _execute(self, name: str, params: Params, *, source: str) -> Call:
        """Run a method outside an HTTP request (webhook replies); recorded like one."""
        call = self._begin_call(name, params.decoded, source)
        spec = self.methods.get(name.lower())
        if spec is None:
            status, body = 404, ApiError(404, "Not Found").body()
        else:
            call.method = spec.name
            status, body = await self._run(spec, params, call)
        self._finish_call(call, status, body)
        return call

    def _begin_call(self, method: str, params: JSONDict, source: str) -> Call:
        return Call(next(self._call_seq), method, params, self.clock(), source=source)

    def _finish_call(self, call: Call, status: int | None, body: Any) -> None:
        call.finished, call.status, call.body = self.clock(), status, body
        self.calls.append(call)
        self.notify()

    def _take_failure(self, method: str, params: Params) -> Failure | None:
        for scripted in self._failures:
            if scripted.matches(method, params):
                scripted.remaining -= 1
                if scripted.remaining <= 0:
                    self._failures.remove(scripted)
                return scripted.failure
        return None

    async def _apply_failure(
        self,
        failure: Failure,
        request: web.Request,
        call: Call,
        spec: MethodSpec,
        params: Params,
    ) -> web.StreamResponse | None:
        """Answer a scripted failure; None means "now handle the call normally"."""
        if failure.kind == "slow":
            await self._sleep(failure.delay)
            return None
        if failure.kind == "drop":
            if failure.after_processing:
                _status, call.body = await self._run(spec, params, call)  # never delivered
            self._finish_call(call, None, call.body)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)  # never reaches the client
        if failure.kind == "server_error" and failure.html:
            self._finish_call(call, failure.status, _NGINX_502)
            return web.Response(status=failure.status, text=_NGINX_502, content_type="text/html")
        raise _failure_error(failure)

    # ---- HTTP: the control API

    def _control_routes(self) -> list[_Route]:
        """The control API: JSON in, ``{"ok": true, "result": ...}`` out.

        GET  /_fake                              state summary
        GET  /_fake/calls?method=&since=SEQ      recorded calls
        GET  /_fake/chats                        known chats
        GET  /_fake/chats/{id}                   one chat: messages, drafts, actions
        POST /_fake/chats/{id}/messages          {"text", "user_id"?} user writes
        POST /_fake/chats/{id}/edits             {"message_id", "text"} user edits
        POST /_fake/chats/{id}/callbacks         {"data", "message_id"?} user presses a button
        POST /_fake/chats/{id}/block             {"blocked": true|false}
        POST /_fake/updates                      a raw update (update_id assigned)
        POST /_fake/failures                     {"method", "kind", "times"?, "chat_id"?, ...}
        DELETE /_fake/failures                   forget scripted failures
        POST /_fake/flood                        FloodLimits fields, or {"off": true}
        GET  /_fake/wait?after=VERSION&timeout=S wait for any change (for a web page)
        """
        return [
            ("GET", "", self._ctl_state),
            ("GET", "/calls", self._ctl_calls),
            ("GET", "/chats", self._ctl_chats),
            ("GET", "/chats/{chat_id}", self._ctl_chat),
            ("POST", "/chats/{chat_id}/messages", self._ctl_message),
            ("POST", "/chats/{chat_id}/edits", self._ctl_edit),
            ("POST", "/chats/{chat_id}/callbacks", self._ctl_callback),
            ("POST", "/chats/{chat_id}/block", self._ctl_block),
            ("POST", "/updates", self._ctl_update),
            ("POST", "/failures", self._ctl_add_failure),
            ("DELETE", "/failures", self._ctl_clear_failures),
            ("POST", "/flood", self._ctl_flood),
            ("GET", "/wait", self._ctl_wait),
        ]

    async def _ctl_state(self, request: web.Request) -> web.StreamResponse:
        return _ctl_ok(
            {
                "token": self.token,
                "bot": self.bot_user,
                "version": self.version,
                "webhook": self.webhook,
                "pending_updates": len(self.pending_updates),
                "calls": len(self.calls),
                "throttled": len(self.throttled),
                "flood_limits": self.flood.limits,
            }
        )

    async def _ctl_calls(self, request: web.Request) -> web.StreamResponse:
        method = request.query.get("method")
        since = int(request.query.get("since", "0"))
        calls = self.calls_to(method) if method else self.calls
        return _ctl_ok([c for c in calls if c.seq > since])

    async def _ctl_chats(self, request: web.Request) -> web.StreamResponse:
        return _ctl_ok([{**c.info, "blocked": c.blocked} for c in self.chats.values()])

    async def _ctl_chat(self, request: web.Request) -> web.StreamResponse:
        return _ctl_ok(self.chat(_chat_id_of(request)).to_json())

    async def _ctl_message(self, request: web.Request) -> web.StreamResponse:
        data = await _ctl_json(request)
        update = self.inject_message(
            _chat_id_of(request), str(data["text"]), user_id=data.get("user_id")
        )
        return _ctl_ok(update)

    async def _ctl_edit(self, request: web.Request) -> web.StreamResponse:
        data = await _ctl_json(request)
        update = self.inject_edited_message(
            _chat_id_of(request), int(data["message_id"]), str(data["text"])
        )
        return _ctl_ok(update)

    async def _ctl_callback(self, request: web.Request) -> web.StreamResponse:
        data = await _ctl_json(request)
        update = self.inject_callback_query(
            _chat_id_of(request), str(data["data"]), message_id=data.get("message_id")
        )
        return _ctl_ok(update)

    async def _ctl_block(self, request: web.Request) -> web.StreamResponse:
        data = await _ctl_json(request)
        self.block(_chat_id_of(request), bool(data.get("blocked", True)))
        return _ctl_ok(True)

    async def _ctl_update(self, request: web.Request) -> web.StreamResponse:
        return _ctl_ok(self.inject_update(await _ctl_json(request)))

    async def _ctl_add_failure(self, request: web.Request) -> web.StreamResponse:
        data = await _ctl_json(request)
        method = str(data.pop("method"))
        times = int(data.pop("times", 1))
        chat_id = data.pop("chat_id", None)
        self.fail_next(method, Failure.from_json(data), times=times, chat_id=chat_id)
        return _ctl_ok(True)

    async def _ctl_clear_failures(self, request: web.Request) -> web.StreamResponse:
        self.clear_failures()
        return _ctl_ok(True)

    async def _ctl_flood(self, request: web.Request) -> web.StreamResponse:
        data = await _ctl_json(request)
        limits = FloodLimits.off() if data.pop("off", False) else msgspec.convert(data, FloodLimits)
        self.set_flood_limits(limits)
        return _ctl_ok(limits)

    async def _ctl_wait(self, request: web.Request) -> web.StreamResponse:
        after = int(request.query.get("after", str(self.version)))
        timeout = min(float(request.query.get("timeout", "25")), 60.0)
        with contextlib.suppress(TimeoutError):
            await self.wait_for(lambda: self.version > after or self._stopping.is_set(), timeout)
        return _ctl_ok({"version": self.version})


def _default_user_id(chat_id: int) -> int:
    # In a private chat the user id is the chat id; groups get one stock member.
    return chat_id if chat_id > 0 else 100_001


def _command_entities(text: str) -> list[JSONDict]:
    # Telegram marks a leading "/command" as a bot_command entity.
    match = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{5,32})?", text)
    return [_entity("bot_command", 0, utf16_len(match.group(0)))] if match else []


def _failure_error(failure: Failure) -> ApiError:
    if failure.kind == "retry_after":
        return too_many_requests(failure.retry_after)
    if failure.kind == "server_error":
        return ApiError(failure.status, _SERVER_ERRORS.get(failure.status, "Internal Server Error"))
    return ApiError(failure.status, failure.description, failure.parameters)


async def _read_params(request: web.Request) -> JSONDict:
    """Query string plus a JSON, urlencoded or multipart body, as Telegram accepts."""
    params: JSONDict = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            body = _decode(await request.read())
        except msgspec.DecodeError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                size = len(value.file.read())
                params[key] = {"filename": value.filename, "content_type": value.content_type,
                               "size": size}  # fmt: skip
            else:
                params[key] = value
    return params


async def _read_webhook_reply(resp: aiohttp.ClientResponse) -> JSONDict | None:
    """A method call in a webhook answer (JSON or aiogram's multipart), if any."""
    if resp.content_type == "application/json":
        with contextlib.suppress(msgspec.DecodeError):
            body = _decode(await resp.read())
            if isinstance(body, dict) and isinstance(body.get("method"), str):
                return body
    elif resp.content_type == "multipart/form-data":
        reply: JSONDict = {}
        reader = aiohttp.MultipartReader.from_response(resp)
        async for part in reader:
            if isinstance(part, aiohttp.BodyPartReader) and part.name:
                reply[part.name] = await part.text()
        return reply if "method" in reply else None
    return None


async def _not_found(request: web.Request) -> web.StreamResponse:
    return _json_response(404, ApiError(404, "Not Found").body())


@web.middleware
async def _control_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bad control API input answers 400 with the reason instead of a 500."""
    if not request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except (KeyError, ValueError, TypeError, msgspec.ValidationError, ApiError) as exc:
        return _json_response(400, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})


def _json_response(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=_encode(body), content_type="application/json")


def _ctl_ok(result: Any) -> web.Response:
    return _json_response(200, {"ok": True, "result": result})


async def _ctl_json(request: web.Request) -> JSONDict:
    try:
        data = _decode(await request.read())
    except msgspec.DecodeError:
        raise web.HTTPBadRequest(text="body must be a JSON object") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


def _chat_id_of(request: web.Request) -> int:
    try:
        return int(request.match_info["chat_id"])
    except ValueError:
        raise web.HTTPBadRequest(text="chat id must be an integer") from None


# --------------------------------------------------------------------------
# Standalone


async def serve(host: str = "127.0.0.1", port: int = 8081, token: str = DEFAULT_TOKEN) -> None:
    """Run a fake until cancelled (the sandbox's entry point)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with FakeTelegram(host=host, port=port, token=token) as fake:
        print(f"fake Telegram Bot API on {fake.url} token {fake.token}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a fake Telegram Bot API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
