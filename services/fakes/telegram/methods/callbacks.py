"""Callback queries: the answer to a pressed inline button."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import bad_request
from ..params import Params
from .registry import bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram


@bot_method("answerCallbackQuery")
async def answer_callback_query(fake: FakeTelegram, params: Params) -> Any:
    query_id = params.string("callback_query_id")
    if not query_id or query_id not in fake.open_callback_queries:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.string("text") or ""
    if len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    answer = {
        "callback_query_id": query_id,
        "text": text,
        "show_alert": params.boolean("show_alert"),
    }
    fake.open_callback_queries.pop(query_id).answer = answer
    fake.callback_answers.append(answer)
    fake.notify()
    return True
