"""Telegram HTML: a port of tdlib's ``parse_html``, errors and all."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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

_ASCII_DIGITS = frozenset("0123456789")
_ASCII_HEX = frozenset("0123456789abcdefABCDEF")
_ASCII_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_LOOKS_LIKE_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``pos`` like tdlib: (character, next index) or None if not one."""
    end = pos + 1
    if char_at(text, end) == "#":
        end += 1
        value = 0
        hexadecimal = char_at(text, end) == "x"
        if hexadecimal:
            end += 1
        digits = _ASCII_HEX if hexadecimal else _ASCII_DIGITS
        while char_at(text, end) in digits:
            value = value * (16 if hexadecimal else 10) + int(text[end], 16)
            end += 1
            if value >= 0x10FFFF:
                return None
        if value == 0 or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while char_at(text, end) in _ASCII_ALPHA:
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    if char_at(text, end) == ";":
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
class _OpenTag(Opening):
    name: str
    argument: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


class _HtmlParser:
    """tdlib's ``parse_html``, on Python strings; errors carry UTF-8 byte offsets."""

    def __init__(self, text: str, *, strict: bool) -> None:
        self.text = text
        self.strict = strict
        self.out = TextBuilder()
        self.stack: list[_OpenTag] = []
        self.entities: list[JSONDict] = []

    def error(self, reason: str) -> ApiError:
        return cant_parse(reason)

    def byte(self, index: int) -> int:
        return byte_offset(self.text, index)

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
            elif char_at(text, i + 1) == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            name = self.stack[-1].name
            raise self.error(f'Can\'t find end tag corresponding to start tag "{name}"')
        entities = _strip_private_keys(self.entities)
        return FormattedText(self.out.text(), sorted_entities(entities))

    def check_unknown_entity(self, i: int) -> None:
        # Telegram keeps "&nbsp;" literally; strict mode calls it the bug it usually is.
        match = _LOOKS_LIKE_NAMED_ENTITY.match(self.text, i)
        if self.strict and match:
            raise self.error(
                f'Unsupported HTML entity "{match.group(0)}" at byte offset {self.byte(i)}'
            )

    def start_tag(self, begin: int) -> int:
        text, i = self.text, begin + 1
        while char_at(text, i) not in SPACES and char_at(text, i) != ">":
            i += 1
        if char_at(text, i) == "\0":
            raise self.error(f"Unclosed start tag at byte offset {self.byte(begin)}")
        name = text[begin + 1 : i].lower()
        if name not in _HTML_TAGS:
            raise self.error(f'Unsupported start tag "{name}" at byte offset {self.byte(begin)}')
        tag = _OpenTag(
            name, byte_offset=self.byte(begin), utf16_start=self.out.utf16, out_start=len(self.out)
        )
        i = self.attributes(tag, i)
        self.check_start_tag(tag)
        self.stack.append(tag)
        return i + 1  # past '>'

    def attributes(self, tag: _OpenTag, i: int) -> int:
        text = self.text
        while char_at(text, i) != ">":
            while char_at(text, i) != "\0" and char_at(text, i) in SPACES:
                i += 1
            if char_at(text, i) == ">":
                break
            name_begin = i
            while char_at(text, i) not in SPACES and char_at(text, i) not in "=>":
                i += 1
            name = text[name_begin:i]
            if not name:
                raise self.error(
                    f'Empty attribute name in the tag "{tag.name}" at byte offset {tag.byte_offset}'
                )
            while char_at(text, i) != "\0" and char_at(text, i) in SPACES:
                i += 1
            if char_at(text, i) != "=":
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
        while char_at(text, i) != "\0" and char_at(text, i) in SPACES:
            i += 1
        if char_at(text, i) == "\0":
            raise self.error(f'Unclosed start tag "{tag.name}" at byte offset {tag.byte_offset}')
        quote = char_at(text, i)
        if quote not in "'\"":
            # An unquoted name token: letters, digits, periods, hyphens; case-insensitive.
            token_begin = i
            while char_at(text, i).isascii() and (
                char_at(text, i).isalnum() or char_at(text, i) in ".-"
            ):
                i += 1
            if char_at(text, i) not in SPACES and char_at(text, i) != ">":
                raise self.error(
                    f"Unexpected end of name token at byte offset {self.byte(token_begin)}"
                )
            return text[token_begin:i].lower(), i
        i += 1
        value: list[str] = []
        while char_at(text, i) not in (quote, "\0"):
            decoded = _decode_html_entity(text, i) if text[i] == "&" else None
            if decoded is not None:
                value.append(decoded[0])
                i = decoded[1]
            else:
                value.append(text[i])
                i += 1
        if char_at(text, i) == quote:
            i += 1
        if char_at(text, i) == "\0":
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
        while char_at(text, i) not in SPACES and char_at(text, i) != ">":
            i += 1
        end_name = text[begin + 2 : i]
        while char_at(text, i) != "\0" and char_at(text, i) in SPACES:
            i += 1
        if char_at(text, i) != ">":
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
            self.entities.append(entity(_HTML_SIMPLE[tag.name], start, length))
        elif tag.name == "a":
            url = tag.argument or self.out.since(tag.out_start)
            self.entities.append(entity("text_link", start, length, url=url))
        elif tag.name == "code":
            self.close_code(tag, length)
        elif tag.name == "pre":
            self.close_pre(tag, length)
        elif tag.name == "blockquote":
            kind = "expandable_blockquote" if "expandable" in tag.attributes else "blockquote"
            self.entities.append(entity(kind, start, length))
        elif tag.name == "tg-emoji":
            self.entities.append(
                entity("custom_emoji", start, length, custom_emoji_id=tag.argument)
            )
        else:  # tg-time
            extra: JSONDict = {"unix_time": int(tag.argument)}
            if fmt := tag.attributes.get("format"):
                extra["date_time_format"] = fmt
            self.entities.append(entity("date_time", start, length, **extra))

    def close_code(self, tag: _OpenTag, length: int) -> None:
        code = entity("code", tag.utf16_start, length)
        parent = self.stack[-2] if len(self.stack) >= 2 else None
        if tag.argument and parent is not None and parent.name == "pre":
            code["_language"] = tag.argument  # consumed by the enclosing <pre>
        self.entities.append(code)

    def close_pre(self, tag: _OpenTag, length: int) -> None:
        pre = entity("pre", tag.utf16_start, length)
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


def _strip_private_keys(entities: list[JSONDict]) -> list[JSONDict]:
    return [{k: v for k, v in e.items() if not k.startswith("_")} for e in entities]
