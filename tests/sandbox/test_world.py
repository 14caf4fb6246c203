"""The sandbox's world: who the people are, what the results look like, what processes are told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager, personas
from services.sandbox.app import (
    Sandbox,
    bot_environment,
    files_environment,
    files_process_available,
    relay_environment,
)
from services.sandbox.provisioning import example_result, publish
from services.sandbox.settings import SandboxSettings
from services.sandbox.supervisor import render_config
from services.sandbox.world import (
    ADMIN_ID,
    ENGLISH_ID,
    MANY_PROJECTS_ID,
    PEOPLE,
    PROACTIVE_ID,
    STRANGER_ID,
    STREAMING_ID,
    USER_ID,
    populate,
    reminders,
)
from services.sandbox.world import personas as personas_of
from shared import keys
from shared.schemas import ProvisionerResult, decode_entry
from tests.deploy.settings_names import read_by
from tests.deploy.test_supervisord import parse


async def test_the_api_knows_the_admin_and_the_user_but_not_the_stranger(
    fake_api: FakeApi, fake_telegram: FakeTelegram
) -> None:
    populate(fake_api, fake_telegram)
    by_id = {u["telegram_id"]: u for u in fake_api.users}
    assert by_id[ADMIN_ID]["is_admin"] is True
    assert by_id[USER_ID]["is_admin"] is False
    assert STRANGER_ID not in by_id
    assert fake_api.projects[USER_ID]
    assert fake_api.servers
    assert fake_api.tasks[USER_ID]


async def test_grace_and_alan_are_users_whose_pos_have_a_persona_and_linus_s_echoes(
    fake_api: FakeApi, fake_telegram: FakeTelegram
) -> None:
    populate(fake_api, fake_telegram)
    user_ids = {u["telegram_id"]: u["id"] for u in fake_api.users}
    assert not any(u["is_admin"] for u in fake_api.users if u["telegram_id"] != ADMIN_ID)
    assert personas_of(fake_api) == {
        user_ids[STREAMING_ID]: "streaming",
        user_ids[PROACTIVE_ID]: "proactive",
    }
    assert personas.script("streaming").chunks > 1
    assert personas.script("proactive").follow_up_s == 60.0
    assert FakeWorkerManager("redis://unused").script_for(user_ids[USER_ID]).chunks == 1


async def test_every_person_has_an_explicit_telegram_language_and_emma_s_is_english(
    fake_api: FakeApi, fake_telegram: FakeTelegram
) -> None:
    populate(fake_api, fake_telegram)
    languages = {p.telegram_id: fake_telegram.user(p.telegram_id)["language_code"] for p in PEOPLE}
    assert languages.pop(ENGLISH_ID) == "en"
    assert set(languages.values()) == {"ru"}


async def test_margaret_has_25_projects_in_the_api_and_emma_is_a_known_user(
    fake_api: FakeApi, fake_telegram: FakeTelegram
) -> None:
    populate(fake_api, fake_telegram)
    assert len(fake_api.projects[MANY_PROJECTS_ID]) == 25
    known = {u["telegram_id"] for u in fake_api.users}
    assert {ENGLISH_ID, MANY_PROJECTS_ID} <= known


async def test_telegram_shows_the_people_by_the_names_on_the_page(
    fake_api: FakeApi, fake_telegram: FakeTelegram
) -> None:
    people = populate(fake_api, fake_telegram)
    for person in people:
        assert fake_telegram.chat(person.telegram_id).info["first_name"] == person.first_name


@pytest.mark.parametrize("outcome", ["success", "failed"])
async def test_a_published_result_is_what_the_provisioner_writes(
    redis: aioredis.Redis, outcome: str
) -> None:
    result = example_result(outcome)  # type: ignore[arg-type]

    entry_id = await publish(redis, result)

    # The declared reply type is a union over protocols; RESP2 gives [(id, fields)].
    entries: Any = await redis.xrange(keys.PROVISIONER_RESULTS)
    [(raw_id, fields)] = entries
    assert raw_id.decode() == entry_id
    assert decode_entry(fields, ProvisionerResult) == result
    assert result.status == outcome
    assert (result.errors is not None) == (outcome == "failed")


def test_example_results_name_a_new_server_each_time() -> None:
    handles = {example_result("success").server_handle for _ in range(3)}
    assert len(handles) == 3


@pytest.mark.parametrize("command", ["ingress", "relay", "notifier"])
def test_every_variable_the_processes_get_is_one_they_read(command: str) -> None:
    environment = bot_environment(
        token="1:a", telegram_api_url="http://t", api_url="http://a", redis_url="redis://r",
        log_level="INFO",
    )  # fmt: skip
    assert set(environment) <= read_by(command)
    assert set(environment) | {"RELAY_NAME"} <= read_by("relay")


def test_the_relays_and_the_notifier_are_told_the_po_contract_which_only_they_read() -> None:
    environment = relay_environment(po_contract="worker-streams")
    assert environment == {"PO_CONTRACT": "worker-streams"}
    assert set(environment) <= read_by("relay") & read_by("notifier")
    assert not set(environment) & read_by("ingress")


def test_the_notifier_program_gets_the_po_contract_and_the_ingress_does_not(
    tmp_path: Path,
) -> None:
    told = relay_environment(po_contract="po-service")
    config = tmp_path / "supervisord.conf"
    config.write_text(
        render_config(tmp_path, ["telegram-bot"], 2, "pw", relay_env=told, notifier_env=told)
    )
    environments = {p.name: p.environment or {} for p in parse(config)}
    assert environments["notifier"] == {"PO_CONTRACT": "po-service"}
    assert environments["relay-1"]["PO_CONTRACT"] == "po-service"
    assert "PO_CONTRACT" not in environments["ingress"]


def test_alan_alone_gets_a_reminder_from_the_po_service_a_minute_after_its_answer() -> None:
    assert reminders() == {PROACTIVE_ID: 60.0}


def test_the_processes_log_readably_to_the_terminal() -> None:
    environment = bot_environment(
        token="1:a", telegram_api_url="http://t", api_url="http://a", redis_url="redis://r",
        log_level="DEBUG",
    )  # fmt: skip
    assert environment["LOG_FORMAT"] == "console"
    assert environment["LOG_LEVEL"] == "DEBUG"
    assert msgspec.json.decode(msgspec.json.encode(environment)) == environment


def test_the_files_program_runs_only_when_asked_and_is_told_where_to_listen(
    tmp_path: Path,
) -> None:
    config = tmp_path / "supervisord.conf"
    config.write_text(render_config(tmp_path, ["telegram-bot"], 2, "pw"))
    assert "files" not in {p.name for p in parse(config)}

    listen = {"FILES_LISTEN": "127.0.0.1:18081"}
    config.write_text(render_config(tmp_path, ["telegram-bot"], 2, "pw", files_env=listen))
    processes = {p.name: p for p in parse(config)}
    assert processes["files"].command == "telegram-bot files"
    assert processes["files"].environment == listen
    assert "FILES_LISTEN" not in (processes["ingress"].environment or {})


@pytest.mark.parametrize("command", ["ingress", "relay", "notifier"])
def test_every_process_reads_the_files_key_and_address_it_is_told(command: str) -> None:
    told = files_environment(signing_key="k" * 43, public_url="http://127.0.0.1:1")
    assert set(told) <= read_by(command)


def test_with_the_files_process_every_process_gets_the_links_key_and_address(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(SandboxSettings(), tmp_path)  # not started: only what it would tell
    environment = sandbox.files_env()

    assert (sandbox.files_port is not None) == files_process_available()
    if sandbox.files_port is None:
        assert environment == {}
        return
    assert len(environment["FILES_SIGNING_KEY"]) >= 32
    assert environment["FILES_PUBLIC_URL"] == f"http://127.0.0.1:{sandbox.files_port}"
    other = Sandbox(SandboxSettings(), tmp_path).files_env()
    assert other["FILES_SIGNING_KEY"] != environment["FILES_SIGNING_KEY"]  # one per run
