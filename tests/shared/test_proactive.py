"""Reading ``po:proactive`` entries: flat string fields, checked at the edge."""

from __future__ import annotations

import pytest

from shared.proactive import ProactiveMessage, decode_proactive
from shared.schemas import MalformedEntry


def test_a_platform_entry_decodes_with_its_chat_id_as_a_number() -> None:
    fields = {
        b"text": b"Task done",
        b"telegram_chat_id": b"100004",
        b"owner_user_id": b"4",
        b"event": b"task_completed",
        b"story_id": b"s-1",
        b"project_id": b"p-1",
    }
    assert decode_proactive(fields) == ProactiveMessage(
        text="Task done",
        telegram_chat_id=100004,
        owner_user_id="4",
        event="task_completed",
        story_id="s-1",
        project_id="p-1",
    )


def test_unknown_and_empty_optional_fields_are_ignored() -> None:
    fields = {b"text": b"hi", b"telegram_chat_id": b"7", b"event": b"", b"priority": b"high"}
    assert decode_proactive(fields) == ProactiveMessage(text="hi", telegram_chat_id=7)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({b"telegram_chat_id": b"7"}, id="no-text"),
        pytest.param({b"text": b" \n", b"telegram_chat_id": b"7"}, id="blank-text"),
        pytest.param({b"text": b"hi"}, id="no-chat"),
        pytest.param({b"text": b"hi", b"telegram_chat_id": b"7.5"}, id="fractional-chat"),
        pytest.param({b"text": b"hi", b"telegram_chat_id": b"@alan"}, id="username-chat"),
        pytest.param({b"text": b"hi", b"telegram_chat_id": b"0"}, id="zero-chat"),
        pytest.param({b"text": b"hi", b"telegram_chat_id": b"9" * 20}, id="huge-chat"),
    ],
)
def test_an_entry_that_cannot_be_delivered_is_malformed(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(MalformedEntry):
        decode_proactive(fields)


def test_the_error_never_quotes_the_text() -> None:
    with pytest.raises(MalformedEntry) as raised:
        decode_proactive({b"text": b"secret plans", b"telegram_chat_id": b"x"})
    assert "secret plans" not in str(raised.value)
