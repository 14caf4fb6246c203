"""``attachments`` on a PO's output entry as each profile reads it (CONTRACTS.md, extensions)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from services.relay.contracts import SEED, WorkerStreamsContract, po_service
from services.relay.contracts.attachments import Unreadable, read_attachments
from shared.attachments import OutgoingAttachment
from shared.schemas import MalformedEntry

DOC = {"kind": "document", "url": "https://files.example/report.pdf", "file_name": "report.pdf"}


def seed_entry(payload: Any) -> dict[bytes, bytes]:
    return {b"data": msgspec.json.encode(payload)}


def test_each_wrong_item_stays_in_its_place_as_unreadable_and_the_others_are_read() -> None:
    read = read_attachments(
        [
            {
                "kind": "document",
                "url": "https://a.example/a",
                "data": "eA==",
                "file_name": "a.txt",
            },
            DOC,
            {"kind": "sticker", "data": "eA=="},
            {"kind": "photo"},
            "not an object",
        ]
    )

    assert [type(item).__name__ for item in read] == [
        "Unreadable",
        "OutgoingAttachment",
        "Unreadable",
        "Unreadable",
        "Unreadable",
    ]
    assert read[0] == Unreadable("a.txt", "an attachment needs exactly one of url and data")


def test_a_value_that_is_not_a_list_is_one_unreadable_item() -> None:
    [item] = read_attachments({"kind": 3})

    assert isinstance(item, Unreadable)


def test_seed_reads_attachments_of_a_final_reply_and_allows_it_no_text() -> None:
    reply = SEED.decode_output(seed_entry({"request_id": "r", "attachments": [DOC]}))

    assert reply.text is None
    assert reply.attachments == (msgspec.convert(DOC, OutgoingAttachment),)
    assert not reply.silent


def test_seed_ignores_the_attachments_of_a_snapshot() -> None:
    snapshot = {"text": "so far", "is_final": False, "attachments": [DOC]}

    assert SEED.decode_output(seed_entry(snapshot)).attachments == ()


def test_seed_still_refuses_an_entry_with_neither_text_nor_files() -> None:
    with pytest.raises(MalformedEntry):
        SEED.decode_output(seed_entry({"request_id": "r", "attachments": []}))


def test_worker_streams_files_without_text_show_no_generic_line() -> None:
    contract = WorkerStreamsContract()

    reply = contract.decode_output(seed_entry({"status": "success", "attachments": [DOC]}))

    assert (reply.text, len(reply.attachments)) == (None, 1)


def test_po_service_reads_the_flat_json_field_and_allows_an_empty_text() -> None:
    fields = {b"text": b"", b"attachments": msgspec.json.encode([DOC])}

    reply = po_service.decode_response(fields, "req-1")

    assert (reply.text, reply.request_id, len(reply.attachments)) == (None, "req-1", 1)


def test_po_service_reads_an_undecodable_attachments_field_as_one_unreadable_item() -> None:
    fields = {b"text": b"see", b"attachments": b"[{broken"}

    reply = po_service.decode_response(fields, "req-1")

    assert reply.text == "see"
    assert [type(item) for item in reply.attachments] == [Unreadable]
