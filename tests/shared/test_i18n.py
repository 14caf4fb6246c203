"""The catalogues: complete, with the same placeholders, and picked by language_code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared import i18n
from shared.settings import BaseSettings, SettingsError, load
from shared.texts import DEFAULT_LANGUAGE, RU, catalogue_texts, for_language, keys

LANGUAGES = i18n.languages()


def test_russian_and_english_catalogues_are_found() -> None:
    assert {"ru", "en"} <= set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_has_every_key_and_no_other(language: str) -> None:
    assert sorted(i18n.catalogue(language)) == sorted(keys())


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE])
def test_every_text_has_the_russian_placeholders(language: str) -> None:
    russian, other = i18n.catalogue(DEFAULT_LANGUAGE), i18n.catalogue(language)
    differing = {
        key: (sorted(i18n.placeholders(text)), sorted(i18n.placeholders(other[key])))
        for key, text in russian.items()
        if i18n.placeholders(text) != i18n.placeholders(other.get(key, ""))
    }
    assert differing == {}


def test_placeholders_are_the_format_fields_of_a_text() -> None:
    assert i18n.placeholders("{count} of {total:d}, {{not}} {x!r}") == {"count", "total", "x"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_fills_texts(language: str) -> None:
    assert catalogue_texts(language).language == language


def test_the_russian_rejection_line_is_exact() -> None:
    assert RU.access_denied == "Доступ запрещён. Обратитесь к администратору."


@pytest.mark.parametrize(
    ("code", "language"),
    [("en", "en"), ("en-GB", "en"), ("EN_us", "en"), ("ru", "ru"), ("de", "ru"), (None, "ru")],
)
def test_a_language_code_picks_its_catalogue_else_the_default(
    code: str | None, language: str
) -> None:
    assert for_language(code).language == language


def test_an_unknown_language_code_falls_back_to_the_given_default() -> None:
    assert for_language("de", default="en").language == "en"


def test_dates_are_written_as_the_readers_locale_does() -> None:
    moment = datetime(2026, 11, 23, 21, 56, tzinfo=UTC)
    assert i18n.short_datetime(moment, "ru") == "23.11.2026, 21:56 UTC"
    assert i18n.short_datetime(moment, "en") == "11/23/26, 9:56\u202fPM UTC"


def test_default_language_must_name_a_catalogue() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:x", "DEFAULT_LANGUAGE": "de"}
    with pytest.raises(SettingsError, match="DEFAULT_LANGUAGE"):
        load(BaseSettings, env)
    assert load(BaseSettings, env | {"DEFAULT_LANGUAGE": "en"}).default_language == "en"
