"""``parse_mode`` or ``entities`` applied to a message's text, as ``sendMessage`` does."""

from __future__ import annotations

from typing import Any

from .entities import FormattedText, check_entities, utf16_len, with_found_entities
from .errors import bad_request
from .html import parse_html
from .markdown import parse_markdown, parse_markdown_v2

MAX_TEXT_UTF16 = 4096
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
    # Links and addresses in the text are found after trimming, as Telegram does.
    return with_found_entities(_trim(formatted))
