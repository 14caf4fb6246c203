"""The catalogues behind ``shared.texts``: one gettext ``.po`` file per language.

``shared/locales/<language>/LC_MESSAGES/bot.po`` holds every text of one
language. A msgid is a ``Texts`` field's name; a dict-valued field's entries
are ``field.key`` (``project_status.active``), in the order the catalogue
lists them. The languages are the catalogues found: a new language is a new
file, no code change. The files are read with Babel at start (a few
milliseconds each) and ship inside the package, so the wheel carries them.

Dates go through Babel (CLDR) for the reader's locale: ``short_datetime``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.pofile import read_po

LOCALES = Path(__file__).with_name("locales")
DOMAIN = "bot"
_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w*)[^{}]*\}")


class CatalogueError(Exception):
    """A catalogue is missing, unreadable or incomplete; the message names it."""


@cache
def languages() -> tuple[str, ...]:
    """The languages that have a catalogue, sorted."""
    found = sorted(path.parent.parent.name for path in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return tuple(found)


@cache
def catalogue(language: str) -> dict[str, str]:
    """``language``'s messages, msgid -> text, in the file's order (untranslated ones left out)."""
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        with path.open("rb") as file:
            parsed = read_po(file, locale=language, domain=DOMAIN)
    except (OSError, ValueError, UnknownLocaleError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    messages: dict[str, str] = {}
    for message in parsed:
        text = message.string
        if message.id and isinstance(message.id, str) and isinstance(text, str) and text:
            messages[message.id] = text
    return messages


def placeholders(text: str) -> frozenset[str]:
    """The ``str.format`` fields a text uses: ``"{count} of {total:d}"`` -> count, total."""
    return frozenset(_PLACEHOLDER.findall(text))


def pick(code: str | None, available: tuple[str, ...], default: str) -> str:
    """The language for a Telegram ``language_code`` (``en-US`` -> ``en``), else ``default``."""
    if code:
        wanted = code.replace("_", "-").split("-")[0].lower()
        if wanted in available:
            return wanted
    return default


def short_datetime(moment: datetime, language: str) -> str:
    """A moment in UTC as the reader's locale writes it short: ``23.11.2026, 21:56 UTC``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{format_datetime(moment, 'short', tzinfo=UTC, locale=Locale.parse(language))} UTC"
