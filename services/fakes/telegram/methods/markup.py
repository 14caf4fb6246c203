"""Reply markup: the keyboards a message may carry, checked as Telegram checks them."""

from __future__ import annotations

import itertools
from typing import Any

from ..errors import bad_request
from ..params import Params
from ..wire import JSONDict


def reply_markup(params: Params) -> JSONDict | None:
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
