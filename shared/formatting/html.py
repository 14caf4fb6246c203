"""Telegram HTML read as atoms (tags, entities, characters) and the visible text they make.

The splitter measures and cuts the visible text, and maps each cut back to
the HTML: so it needs, for every visible character, the atom it came from
and the elements open around it (to close them at a cut and reopen them, with
their attributes, in the next part). Entities are decoded as Telegram does:
a ``&`` that starts no entity it knows is a literal ``&``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, NamedTuple

__all__ = ["Document", "Open", "parse_html", "plain_document"]


class Open(NamedTuple):
    """An element open around a character."""

    name: str
    tag: str  # the start tag as written, attributes included, to reopen it


@dataclass(slots=True)
class Document:
    """HTML as atoms (tags, entities, characters) and the visible text they make."""

    raws: list[str]  # every atom's source, in order
    visible: list[str]  # one character per visible atom
    atom_of: list[int]  # the atom index of each visible character
    open_at: list[tuple[Open, ...]]  # the elements open around each visible character

    @property
    def text(self) -> str:
        return "".join(self.visible)


_HTML_ATOM = re.compile(
    # Possessive quantifiers: a "<" that never closes costs linear time, not quadratic.
    r"""<(?P<slash>/?)(?P<name>[^\s>]*+)(?:[^>"']|"[^"]*+"|'[^']*+')*+>"""
    r"|&(?P<entity>#[0-9]{1,8}|#x[0-9a-fA-F]{1,7}|[A-Za-z]++);?"
)
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def parse_html(html: str) -> Document:
    """Valid Telegram HTML (ours: rendered or built with ``escape``) as atoms."""
    document = Document([], [], [], [])
    stack: tuple[Open, ...] = ()
    pos = 0
    while (atom := _HTML_ATOM.search(html, pos)) is not None:
        for char in html[pos : atom.start()]:
            _add_char(document, char, char, stack)
        pos = atom.end()
        if atom.group("entity") is None:
            stack = _apply_tag(stack, atom)
            document.raws.append(atom.group())
            continue
        decoded = _decode_entity(atom.group("entity"))
        if decoded is None:  # Telegram reads a "&" that starts no entity literally
            _add_char(document, "&", "&", stack)
            pos = atom.start() + 1
        else:
            _add_char(document, atom.group(), decoded, stack)
    for char in html[pos:]:
        _add_char(document, char, char, stack)
    return document


def _add_char(document: Document, raw: str, char: str, stack: tuple[Open, ...]) -> None:
    document.atom_of.append(len(document.raws))
    document.raws.append(raw)
    document.visible.append(char)
    document.open_at.append(stack)


def _apply_tag(stack: tuple[Open, ...], tag: re.Match[str]) -> tuple[Open, ...]:
    if not tag.group("slash"):
        return (*stack, Open(tag.group("name").lower(), tag.group()))
    # Valid Telegram HTML closes the innermost element; anything else is the caller's bug.
    return stack[:-1]


def _decode_entity(entity: str) -> str | None:
    if not entity.startswith("#"):
        return _NAMED_ENTITIES.get(entity)
    value = int(entity[2:], 16) if entity[1] == "x" else int(entity[1:])
    if 0 < value < 0x110000 and not 0xD800 <= value <= 0xDFFF:
        return chr(value)
    return None


def plain_document(text: str) -> Document:
    """Text sent without a parse mode: every character is an atom of its own."""
    return Document(list(text), list(text), list(range(len(text))), [()] * len(text))
