"""Rich messages (Bot API 10.1): ``sendRichMessage``, and a switch to refuse it.

The fake checks an ``InputRichMessage`` the way the bot builds one: exactly
one of ``html``, ``markdown`` and ``blocks``; blocks of the types the bot
sends (``paragraph``, ``heading`` of size 1-6, ``pre``, ``table`` whose cells
have ``align`` and ``valign``, ``list``, ``details``, ``divider``), and rich
text that is a string, a list of rich texts or a typed object with ``text``
(a ``url`` also with ``url``). Anything else is a 400, as a malformed request
is on Telegram. The stored message holds the visible text (blocks one per
line) as ``text`` and the request's ``rich_message``, for tests to read.

:func:`refuse_rich_messages` makes one fake answer every ``sendRichMessage``
with a 400, as a Bot API server or client setup that does not take them;
:func:`accept_rich_messages` undoes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..entities import FormattedText, utf16_len
from ..errors import bad_request
from ..params import Params
from .markup import reply_markup
from .registry import METHODS, MethodSpec, bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram

METHOD = "sendRichMessage"
REFUSAL = "Bad Request: rich messages are not supported"
MAX_RICH_UTF16 = 32_768  # the fake's own cap on a rich message's visible text

_TEXT_TYPES = frozenset(
    {
        "bold", "italic", "underline", "strikethrough", "spoiler", "subscript", "superscript",
        "marked", "code", "url", "email_address", "phone_number", "mention", "hashtag",
        "cashtag", "bot_command",
    }
)  # fmt: skip
_ALIGN = frozenset({"left", "center", "right"})
_VALIGN = frozenset({"top", "middle", "bottom"})


@bot_method(METHOD)
async def send_rich_message(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    rich = params.json("rich_message")
    if not isinstance(rich, dict):
        raise bad_request("rich_message must be an object")
    text = _message_text(rich)
    if not text.strip():
        raise bad_request("rich message is empty")
    if utf16_len(text) > MAX_RICH_UTF16:
        raise bad_request("rich message is too long")
    markup = reply_markup(params)
    fake.admit_send(chat_id)
    message = fake.post_bot_message(chat_id, FormattedText(text), reply_markup=markup)
    message["rich_message"] = rich
    fake.chat(chat_id).messages[message["message_id"]]["rich_message"] = rich
    return message


def refuse_rich_messages(fake: FakeTelegram, description: str = REFUSAL) -> None:
    """Answer every ``sendRichMessage`` to ``fake`` with a 400 ``description``."""

    async def refuse(fake: FakeTelegram, params: Params) -> Any:
        raise bad_request(description.removeprefix("Bad Request: "))

    fake.add_method(METHOD, refuse)


def accept_rich_messages(fake: FakeTelegram) -> None:
    """Serve ``sendRichMessage`` on ``fake`` again (the default)."""
    fake.methods[METHOD.lower()] = MethodSpec(METHOD, METHODS[METHOD.lower()].handler)


# --------------------------------------------------------------------------
# Checking the message


def _message_text(rich: dict[str, Any]) -> str:
    given = [field for field in ("html", "markdown", "blocks") if rich.get(field) is not None]
    if len(given) != 1:
        raise bad_request("exactly one of html, markdown and blocks must be specified")
    if given[0] != "blocks":
        value = rich[given[0]]
        if not isinstance(value, str):
            raise bad_request(f"{given[0]} must be a string")
        return value  # the fake does not parse rich HTML or Markdown
    blocks = rich["blocks"]
    if not isinstance(blocks, list) or not blocks:
        raise bad_request("blocks must be a non-empty array")
    return "\n".join(_block_text(block) for block in blocks)


def _block_text(block: Any) -> str:
    if not isinstance(block, dict):
        raise bad_request("a rich block must be an object")
    kind = block.get("type")
    if kind in ("paragraph", "pre"):
        if kind == "pre" and not isinstance(block.get("language", ""), str):
            raise bad_request("language must be a string")
        return _text(block.get("text"))
    if kind == "heading":
        size = block.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 6:
            raise bad_request("heading size must be 1-6")
        return _text(block.get("text"))
    if kind == "table":
        return _table_text(block.get("cells"))
    if kind == "list":
        items = block.get("items")
        if not isinstance(items, list) or not items:
            raise bad_request("list items must be a non-empty array")
        contents = [item.get("blocks") if isinstance(item, dict) else None for item in items]
        return "\n".join(_blocks_text(content) for content in contents)
    if kind == "details":
        return _text(block.get("summary")) + "\n" + _blocks_text(block.get("blocks"))
    if kind == "divider":
        return ""
    raise bad_request(f"unsupported rich block type {kind!r}")


def _blocks_text(blocks: Any) -> str:
    if not isinstance(blocks, list) or not blocks:
        raise bad_request("blocks must be a non-empty array")
    return "\n".join(_block_text(block) for block in blocks)


def _table_text(cells: Any) -> str:
    if not isinstance(cells, list) or not cells:
        raise bad_request("table cells must be a non-empty array of arrays")
    rows = []
    for row in cells:
        if not isinstance(row, list) or not row:
            raise bad_request("table cells must be a non-empty array of arrays")
        texts = []
        for cell in row:
            if not isinstance(cell, dict):
                raise bad_request("a table cell must be an object")
            if cell.get("align") not in _ALIGN or cell.get("valign") not in _VALIGN:
                raise bad_request("a table cell needs align and valign")
            texts.append(_text(cell["text"]) if cell.get("text") is not None else "")
        rows.append(" ".join(texts))
    return "\n".join(rows)


def _text(value: Any) -> str:
    """The visible text of ``RichText``, checking its shape."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text(item) for item in value)
    if isinstance(value, dict):
        if value.get("type") not in _TEXT_TYPES:
            raise bad_request(f"unsupported rich text type {value.get('type')!r}")
        if value.get("type") == "url" and not isinstance(value.get("url"), str):
            raise bad_request("a url rich text needs url")
        return _text(value.get("text"))
    raise bad_request("rich text must be a string, an array or an object")
