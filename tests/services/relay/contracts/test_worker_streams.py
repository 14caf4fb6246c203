"""The ``worker-streams`` profile's reading of the wrapper's entries, shape by shape."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.relay.contracts import POReply, WorkerStreamsContract, for_name
from services.relay.contracts.worker_streams import RAW_LIMIT
from shared.schemas import MalformedEntry
from shared.texts import RU

CONTRACT = WorkerStreamsContract(RU)


def entry(payload: Any) -> dict[bytes, bytes]:
    return {b"data": msgspec.json.encode(payload)}


def shown(payload: Any) -> str | None:
    return CONTRACT.decode_output(entry(payload)).text


def cli_lines(*objects: Any) -> str:
    return "\n".join(msgspec.json.encode(o).decode() for o in objects)


def test_the_profile_names_the_wrappers_streams_by_worker_id() -> None:
    contract = for_name("worker-streams")
    assert isinstance(contract, WorkerStreamsContract)
    assert (contract.input_stream(2), contract.output_stream(2)) == (
        "worker:po-2:input",
        "worker:po-2:output",
    )
    assert contract.lifecycle_stream == "worker:lifecycle"


def test_plain_content_is_shown_as_a_final_reply() -> None:
    reply = CONTRACT.decode_output(entry({"content": "Готово", "status": "success"}))
    assert reply == POReply("Готово", is_final=True, request_id=None)


@pytest.mark.parametrize("key", ["summary", "message", "text"])
def test_a_structured_result_shows_its_summary_message_or_text(key: str) -> None:
    assert shown({key: "Сделано", "files": ["a.py"], "status": "done"}) == "Сделано"


def test_a_structured_result_without_text_shows_a_short_generic_line() -> None:
    assert shown({"status": "done", "files": ["a.py"], "summary": ""}) == RU.po_result_generic


def test_raw_output_shows_the_result_of_the_cli_result_object() -> None:
    raw = cli_lines(
        {"type": "system", "session_id": "s"},
        {"type": "result", "subtype": "success", "result": "Ответ агента"},
    )
    assert shown({"raw_output": raw, "status": "no_structured_result"}) == "Ответ агента"
    one = msgspec.json.encode({"type": "result", "result": "Один"}).decode()
    assert shown({"raw_output": one, "status": "no_structured_result"}) == "Один"


@pytest.mark.parametrize(
    "raw",
    [
        cli_lines({"type": "system", "session_id": "s"}, {"type": "assistant", "x": 1}),
        '{"type": "result", "is_error": true}',
        "[1, 2]",
        "   ",
    ],
)
def test_raw_agent_json_without_a_result_text_is_never_shown(raw: str) -> None:
    assert shown({"raw_output": raw, "status": "no_structured_result"}) == RU.po_result_generic


def test_raw_plain_text_is_shown_trimmed_and_cut_to_a_sane_length() -> None:
    assert shown({"raw_output": "  просто текст \n", "status": "no_structured_result"}) == (
        "просто текст"
    )
    long = shown({"raw_output": "я" * (RAW_LIMIT * 3), "status": "no_structured_result"})
    assert long == "я" * (RAW_LIMIT - 1) + "…"


def test_the_wrappers_own_failure_entry_is_silent_the_lifecycle_event_tells() -> None:
    assert shown({"status": "failed", "error": "boom"}) is None


@pytest.mark.parametrize("fields", [{b"data": b"[1]"}, {b"data": b"not json"}, {b"other": b"1"}])
def test_an_output_entry_that_is_not_a_json_object_is_malformed(
    fields: dict[bytes, bytes],
) -> None:
    with pytest.raises(MalformedEntry):
        CONTRACT.decode_output(fields)


def test_only_a_failed_lifecycle_event_of_a_po_worker_names_its_user() -> None:
    assert CONTRACT.failed_user(entry({"worker_id": "po-42", "event": "failed"})) == 42
    assert CONTRACT.failed_user(entry({"worker_id": "po-42", "event": "completed"})) is None
    assert CONTRACT.failed_user(entry({"worker_id": "dev-7", "event": "failed"})) is None
    with pytest.raises(MalformedEntry):
        CONTRACT.failed_user(entry({"event": "failed"}))
