"""The schema: what we send is exactly the contract; what we read is read liberally."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from shared.schemas import (
    CreateWorkerCommand,
    MalformedEntry,
    POWorkerOutput,
    Project,
    ProvisionerResult,
    User,
    WorkerConfig,
    decode,
    decode_entry,
    encode_entry,
    new_id,
)


def test_create_worker_command_carries_every_field_of_the_contract() -> None:
    command = CreateWorkerCommand(
        config=WorkerConfig(name="po-7", env_vars={"USER_ID": "7", "API_URL": "http://api:8000"}),
        context={"role": "product_owner", "user_telegram_id": "42"},
    )
    data = json.loads(encode_entry(command)["data"])
    assert set(data) == {
        "version", "correlation_id", "timestamp", "command", "request_id", "config", "context",
    }  # fmt: skip
    assert data["command"] == "create"
    assert data["version"] == "1"
    assert data["config"] == {
        "name": "po-7",
        "worker_type": "po",
        "agent_type": "claude",
        "instructions": "",
        "allowed_commands": ["*"],
        "capabilities": [],
        "env_vars": {"USER_ID": "7", "API_URL": "http://api:8000"},
    }
    assert data["timestamp"].endswith("Z")


@pytest.mark.parametrize("field", ["text", "content", "response", "result", "raw_output"])
def test_po_output_reads_the_reply_under_any_of_its_deployed_names(field: str) -> None:
    output = decode(json.dumps({"request_id": "r", field: "hello"}), POWorkerOutput)
    assert output.reply_text == "hello"
    assert output.is_final


def test_po_output_prefers_text_over_the_fallbacks() -> None:
    payload = {"text": "a", "content": "b", "raw_output": "c"}
    assert decode(json.dumps(payload), POWorkerOutput).reply_text == "a"


def test_po_output_with_structured_raw_output_becomes_its_json() -> None:
    output = decode(json.dumps({"raw_output": {"k": [1]}}), POWorkerOutput)
    assert output.reply_text == '{"k":[1]}'


def test_po_output_without_any_text_is_malformed() -> None:
    with pytest.raises(MalformedEntry, match="no reply text"):
        decode(json.dumps({"request_id": "r", "is_final": True}), POWorkerOutput)


def test_unknown_fields_are_ignored_on_read() -> None:
    payload = {"id": 1, "telegram_id": 2, "is_admin": True, "created_at": "2026-11-23T21:56:03"}
    assert decode(json.dumps(payload), User) == User(id=1, telegram_id=2, is_admin=True)


def test_project_finds_links_nested_in_config() -> None:
    payload = {"id": "p", "name": "n", "status": "active", "config": {"repo_url": "https://g/x"}}
    assert decode(json.dumps(payload), Project).repository == "https://g/x"


@pytest.mark.parametrize(
    "fields",
    [
        {b"data": b"{not json"},
        {b"other": b"{}"},
        {b"data": b'{"status": "success"}'},
        {b"data": b'{"server_handle": 5, "status": "success"}'},
        {b"data": b'{"server_handle": "s", "status": null}'},
        {b"data": b'{"server_handle": "s", "status": "failed", "errors": "one error"}'},
        {b"data": b'{"server_handle": "s", "status": "failed", "errors": {"0": "e"}}'},
        {b"data": b'{"server_handle": "s", "status": "success", "duration_ms": "5s"}'},
    ],
)
def test_a_bad_provisioner_entry_is_malformed(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(MalformedEntry):
        decode_entry(fields, ProvisionerResult)


def test_a_provisioner_status_the_contract_does_not_list_is_accepted() -> None:
    result = decode(b'{"server_handle": "s", "status": "cancelled"}', ProvisionerResult)
    assert result.status == "cancelled"


def test_a_fractional_provisioning_duration_is_accepted() -> None:
    data = b'{"server_handle": "s", "status": "success", "duration_ms": 1234.5}'
    assert decode(data, ProvisionerResult).duration_ms == 1234.5


def test_a_null_count_of_redeployed_services_is_accepted() -> None:
    data = b'{"server_handle": "s", "status": "success", "services_redeployed": null}'
    assert decode(data, ProvisionerResult).services_redeployed is None


def test_provisioning_errors_drop_nulls_and_read_other_values_as_text() -> None:
    data = b'{"server_handle": "s", "status": "failed", "errors": ["a", null, 5, {"k": true}]}'
    assert decode(data, ProvisionerResult).errors == ["a", "5", '{"k":true}']


def test_a_provisioner_result_with_extra_fields_is_accepted() -> None:
    fields = {b"data": b'{"server_handle": "s1", "status": "success", "new_thing": [1]}'}
    result = decode_entry(fields, ProvisionerResult)
    assert (result.server_handle, result.status) == ("s1", "success")


def test_new_ids_are_distinct_version_4_uuids_in_their_usual_text_form() -> None:
    ids = [new_id() for _ in range(1_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:50]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text


def test_a_forked_child_makes_other_ids_than_its_parent() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then gone without running pytest's teardown
        os.write(write, " ".join(new_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    parent = {new_id() for _ in range(5)}
    assert len(child) == 5
    assert not child & parent
