"""The walking skeleton: ingress, relay and notifier as real processes, end to end.

Real aiogram in the ingress polls the fake Telegram over HTTP; a real Redis
carries the streams; the fake worker-manager's PO echoes. What the user sees
is read from the fake Telegram's record of that chat.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import ProvisionerResult, encode_entry
from shared.texts import RU
from tests.plugins.processes import StartService

KNOWN = 1001
STRANGER = 666


async def test_a_known_users_message_comes_back_as_the_po_reply(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    start_service: StartService,
) -> None:
    fake_api.add_user(KNOWN, username="alice", user_id=7)
    start_service("ingress")
    start_service("relay")

    fake_telegram.inject_message(KNOWN, "hello <world> & more")

    # The ingress shows the quick-action keyboard with a note on a session's first message.
    await fake_telegram.wait_for_messages(KNOWN, 2, timeout=30)
    assert sorted(fake_telegram.chat(KNOWN).texts) == sorted(
        ["echo: hello <world> & more", RU.keyboard_note]
    )
    (command,) = fake_workers.commands
    assert command.config.name == "po-7"
    assert command.context == {"role": "product_owner", "user_telegram_id": str(KNOWN)}


async def test_one_request_id_follows_a_message_through_ingress_relay_and_po_reply(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    start_service: StartService,
) -> None:
    fake_api.add_user(KNOWN, user_id=7)
    ingress = start_service("ingress")
    relay = start_service("relay")

    fake_telegram.inject_message(KNOWN, "trace me")

    queued = await ingress.wait_for_event("messages_queued", timeout=30)
    (request_id,) = queued["request_ids"]
    forwarded = await relay.wait_for_event("message_forwarded", timeout=30)
    delivered = await relay.wait_for_event("reply_delivered", timeout=30)
    assert forwarded["request_id"] == delivered["request_id"] == request_id
    assert forwarded["user_id"] == delivered["user_id"] == 7
    assert forwarded["worker_id"] == "po-7"


async def test_a_stranger_gets_the_rejection_and_nothing_is_queued(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_service: StartService,
) -> None:
    fake_api.add_user(KNOWN, user_id=7)
    fake_api.users_query_ignored = True  # the deployed API answers every user
    start_service("ingress")

    fake_telegram.inject_message(STRANGER, "let me in")

    await fake_telegram.wait_for_messages(STRANGER, 1, timeout=30)
    (text,) = fake_telegram.chat(STRANGER).texts
    assert text.splitlines()[0] == "Доступ запрещён. Обратитесь к администратору."
    assert str(STRANGER) in text
    assert [k async for k in redis.scan_iter(match="bot:incoming*")] == []
    assert fake_workers.commands == []


async def test_an_admin_is_told_about_a_provisioning_result(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    start_service: StartService,
) -> None:
    admin, env_admin, user = 5001, 5002, 5003
    fake_api.add_user(admin, is_admin=True)
    fake_api.add_user(user)
    notifier = start_service("notifier", ADMIN_TELEGRAM_IDS=str(env_admin))
    await notifier.wait_for_event("stream_group_created", timeout=30)

    result = ProvisionerResult(
        server_handle="srv-1",
        status="success",
        server_ip="203.0.113.5",
        services_redeployed=3,
        request_id="req-42",
    )
    await redis.xadd(keys.PROVISIONER_RESULTS, encode_entry(result))  # type: ignore[arg-type]

    await fake_telegram.wait_for_messages(admin, 1, timeout=30)
    await fake_telegram.wait_for_messages(env_admin, 1, timeout=30)
    assert "srv-1" in fake_telegram.chat(admin).texts[0]
    assert fake_telegram.chat(user).texts == []
    notified = await notifier.wait_for_event("result_notified", timeout=10)
    assert notified["request_id"] == "req-42"
