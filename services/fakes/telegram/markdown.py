"""Telegram's MarkdownV2 and legacy Markdown: ports of tdlib's parsers."""

from __future__ import annotations

from dataclasses import dataclass

from .entities import (
    SPACES,
    FormattedText,
    Opening,
    TextBuilder,
    byte_offset,
    char_at,
    entity,
    sorted_entities,
)
from .errors import ApiError, cant_parse
from .wire import JSONDict

_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
# tdlib's names for entity types, as they appear in its error messages.
_TDLIB_TYPE_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "text_link": "TextUrl",
    "code": "Code", "pre": "Pre", "custom_emoji": "CustomEmoji",
}  # fmt: skip


@dataclass
class _MdOpen(Opening):
    kind: str
    language: str = ""


class _MarkdownV2Parser:
    """tdlib's ``parse_markdown_v2`` on Python strings (blockquotes simplified)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.out = TextBuilder()
        self.stack: list[_MdOpen] = []
        self.entities: list[JSONDict] = []
        self.quote: _MdOpen | None = None
        self.quote_end = 0

    def opening(self, kind: str, at_byte: int, language: str = "") -> _MdOpen:
        return _MdOpen(
            kind,
            language,
            byte_offset=at_byte,
            utf16_start=self.out.utf16,
            out_start=len(self.out),
        )

    def reserved_error(self, char: str) -> ApiError:
        return cant_parse(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )

    def in_code(self) -> bool:
        return bool(self.stack) and self.stack[-1].kind in ("code", "pre")

    def run(self) -> FormattedText:
        text, i = self.text, 0
        while i < len(text):
            char = text[i]
            if char == "\\" and 0 < ord(char_at(text, i + 1)) <= 126 and i + 1 < len(text):
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
            raise cant_parse(f"Can't find end of {name} entity at byte offset {top.byte_offset}")
        return FormattedText(self.out.text(), sorted_entities(self.entities))

    def line_start(self, i: int) -> int:
        """Handle '>' (and '**>') blockquote markers at the start of a line."""
        text = self.text
        if text.startswith("**>", i) and self.quote is None:
            self.quote = self.opening("expandable_blockquote", 0)
            return i + 3
        if text[i] == ">":
            if self.quote is None:
                self.quote = self.opening("blockquote", 0)
            return i + 1
        self.close_quote(self.quote_end)
        return i

    def close_quote(self, end: int) -> None:
        if self.quote is not None and end > self.quote.utf16_start:
            self.entities.append(
                entity(self.quote.kind, self.quote.utf16_start, end - self.quote.utf16_start)
            )
        self.quote = None

    def closes_top(self, i: int) -> bool:
        if not self.stack:
            return False
        text, kind = self.text, self.stack[-1].kind
        nxt = char_at(text, i + 1)
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
                and (char_at(text, i + 2) in "\n\0")
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
        self.stack.append(self.opening(kind, byte_offset(text, begin), language))
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
                raise cant_parse("Custom emoji entity must contain a tg://emoji URL")
            extra["custom_emoji_id"] = emoji_id
        else:
            i += 1
        if length > 0:
            self.entities.append(entity(top.kind, top.utf16_start, length, **extra))
        return i

    def link_url(self, top: _MdOpen, i: int) -> tuple[str, int]:
        text = self.text
        if char_at(text, i) != "(":
            return self.out.since(top.out_start), i
        i += 1
        url_begin = i
        url: list[str] = []
        while i < len(text) and text[i] != ")":
            if text[i] == "\\" and 0 < ord(char_at(text, i + 1)) <= 126 and i + 1 < len(text):
                url.append(text[i + 1])
                i += 2
            else:
                url.append(text[i])
                i += 1
        if i >= len(text):
            offset = byte_offset(text, url_begin)
            raise cant_parse(f"Can't find end of a URL at byte offset {offset}")
        return "".join(url), i + 1


def _pre_language(text: str, i: int) -> tuple[str, int]:
    """After an opening ``` fence: the language (if any) and where the code starts."""
    end = i
    while char_at(text, end) not in SPACES and char_at(text, end) != "`":
        end += 1
    language = ""
    if end != i and end < len(text) and text[end] != "`":
        language, i = text[i:end], end
    # One newline right after the opening fence is not part of the code.
    if char_at(text, i) in "\r\n":
        pair = char_at(text, i + 1) in "\r\n" and char_at(text, i + 1) != text[i]
        i += 2 if pair else 1
    return language, i


def parse_markdown_v2(text: str) -> FormattedText:
    """Parse MarkdownV2; unescaped reserved characters raise Telegram's 400."""
    return _MarkdownV2Parser(text).run()


def parse_markdown(text: str) -> FormattedText:
    """Parse legacy ``Markdown`` (tdlib's ``parse_markdown``)."""
    out, i = TextBuilder(), 0
    entities: list[JSONDict] = []
    while i < len(text):
        char = text[i]
        if char == "\\" and char_at(text, i + 1) in "_*`[" and i + 1 < len(text):
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
            raise cant_parse(
                f"Can't find end of the entity starting at byte offset {byte_offset(text, begin)}"
            )
        i += 3 if is_pre else 1
        extra: JSONDict = {}
        if char == "[":
            url = out.since(out_start)
            if char_at(text, i) == "(" and (close := text.find(")", i)) != -1:
                url, i = text[i + 1 : close], close + 1
            extra["url"] = url
        if language:
            extra["language"] = language
        kind = {"_": "italic", "*": "bold", "[": "text_link"}.get(char) or (
            "pre" if is_pre else "code"
        )
        if out.utf16 > start:
            entities.append(entity(kind, start, out.utf16 - start, **extra))
    return FormattedText(out.text(), sorted_entities(entities))
