"""``PO_CONTRACT=po-service``: the PO service's own messages (``po:proactive``) through notifiers.

Real notifier processes, a real Redis, the fake Telegram and the fake API.
Entries are written as the platform writes them: flat string fields.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.redis_server import free_port
from services.fakes.telegram import Failure, FakeTelegram
from shared import keys
from shared.schemas import decode_entry, encode_entry
from shared.streams import DeadLetter
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.notifier.test_notifier import (
    ADMIN,
    ENV_ADMIN,
    USER,
    first_notifier,
    publish,
    start_notifier,
    stop,
    success,
    wait_for_blocked_readers,
)
from tests.services.notifier.test_observability import metrics_page, value

USERS = (USER, 5011, 5012, 5013)
PO = {"PO_CONTRACT": "po-service"}
DEAD = keys.dead_letter(keys.PO_PROACTIVE)
READERS = 3
"""Blocking reads one po-service notifier keeps waiting: results, PO messages, alerts."""


@pytest.fixture(autouse=True)
def _people(fake_telegram: FakeTelegram, fake_api: FakeApi) -> None:
    fake_telegram.lift_flood_limits()
    fake_api.add_user(ADMIN, is_admin=True, user_id=1)
    for number, telegram_id in enumerate(USERS, start=2):
        fake_api.add_user(telegram_id, user_id=number)


async def po_notifier(
    start_service: StartService,
    redis: aioredis.Redis,
    name: str = "notifier-a",
    *,
    readers: int = READERS,
    env: dict[str, str] | None = None,
) -> ServiceProcess:
    """A ``po-service`` notifier reading all its streams (``readers``: of every notifier)."""
    process = start_notifier(start_service, name, **PO, **(env or {}))
    await process.wait_for_event("notifier_started", timeout=30)
    await wait_for_blocked_readers(redis, readers)
    return process


async def po_message(redis: aioredis.Redis, chat_id: int | str, text: str, **extra: str) -> str:
    """Write a ``po:proactive`` entry as the platform does; its id."""
    fields = {"text": text, "telegram_chat_id": str(chat_id), **extra}
    entry_id: Any = await redis.xadd(keys.PO_PROACTIVE, fields)  # type: ignore[arg-type]
    return str(entry_id.decode())


async def pending(redis: aioredis.Redis, stream: str = keys.PO_PROACTIVE) -> int:
    group = keys.PROACTIVE_GROUP if stream == keys.PO_PROACTIVE else keys.PROACTIVE_ALERTS_GROUP
    summary: Any = await redis.xpending(stream, group)
    return int(summary["pending"])


async def dead_letters(redis: aioredis.Redis) -> list[DeadLetter]:
    entries: Any = await redis.xrange(DEAD)
    return [decode_entry(fields, DeadLetter) for _, fields in entries]


def events(process: ServiceProcess, name: str) -> list[dict[str, Any]]:
    return [event for event in process.events() if event.get("event") == name]


async def wait_until(count: Callable[[], Awaitable[int]], at_least: int) -> None:
    """Wait until ``count()`` reaches ``at_least``: Redis tells no one, so ask it often."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (found := await count()) < at_least:
        assert loop.time() < deadline, f"{found} of {at_least}"
        await asyncio.sleep(0.01)


def attempt_is(attempt: int) -> Callable[[dict[str, Any]], bool]:
    return lambda event: bool(event["attempt"] == attempt)


def alerts(fake_telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [text for text in fake_telegram.chat(chat_id).texts if text.startswith("⚠️")]


async def test_each_po_message_reaches_its_chat_once_with_two_notifiers_running(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    slow_retry = {"NOTIFIER_RETRY_AFTER_S": "60"}  # each entry handled by the one that read it
    first = await po_notifier(start_service, redis, "notifier-a", env=slow_retry)
    second = await po_notifier(
        start_service, redis, "notifier-b", readers=2 * READERS, env=slow_retry
    )

    async with redis.pipeline(transaction=True) as pipe:
        for round_ in range(10):
            for chat_id in USERS:
                fields = {"text": f"m{round_}", "telegram_chat_id": str(chat_id)}
                pipe.xadd(keys.PO_PROACTIVE, fields)  # type: ignore[arg-type]
        await pipe.execute()

    for chat_id in USERS:
        await fake_telegram.wait_for_messages(chat_id, 10, timeout=30)
    await stop(first)
    await stop(second)
    for chat_id in USERS:
        assert Counter(fake_telegram.chat(chat_id).texts) == {f"m{n}": 1 for n in range(10)}
    delivered = [len(events(process, "proactive_delivered")) for process in (first, second)]
    assert sum(delivered) == 10 * len(USERS)
    assert await pending(redis) == 0


async def test_a_message_is_sent_as_markdown_like_a_po_reply(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    await po_notifier(start_service, redis)

    await po_message(redis, USER, "Задача **готова**: `deploy`", event="task_completed")

    (message,) = await fake_telegram.wait_for_messages(USER, 1, timeout=20)
    assert message["text"] == "Задача готова: deploy"
    assert [e["type"] for e in message["entities"]] == ["bold", "code"]


async def test_a_message_written_while_the_first_notifier_starts_is_delivered(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # No group yet: a new one starts NOTIFIER_BACKFILL_S back, not at the stream's end.
    await po_message(redis, USER, "written before any notifier")

    await po_notifier(start_service, redis)

    await fake_telegram.wait_for_messages(USER, 1, timeout=20)
    assert fake_telegram.chat(USER).texts == ["written before any notifier"]


async def test_a_notifier_killed_mid_message_finishes_it_after_a_restart_showing_no_part_twice(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # One message a chat every 5 s after a burst of two: the third part waits for its slot.
    slow_chat = {"TELEGRAM_RATE_CHAT_PER_S": "0.2"}
    first = await po_notifier(start_service, redis, env=slow_chat)
    paragraphs = [f"Часть {n}: " + "слово " * 600 for n in range(3)]
    entry_id = await po_message(redis, USER, "\n\n".join(paragraphs))
    await fake_telegram.wait_for_messages(USER, 2, timeout=20)
    # Killed once both parts are recorded as sent (a kill between Telegram's answer
    # and that record is the one repeat the design accepts; not this test's subject).
    sent_key = f"bot:sent:proactive:{entry_id}"
    await wait_until(lambda: redis.hlen(sent_key), 2)
    first.kill()

    second = start_notifier(start_service, "notifier-a", **PO, **slow_chat)

    await fake_telegram.wait_for_messages(USER, 3, timeout=30)
    await stop(second)
    texts = fake_telegram.chat(USER).texts
    assert [text.split(":")[0] for text in texts] == ["Часть 0", "Часть 1", "Часть 2"]
    assert len(fake_telegram.calls_to("sendMessage")) == 3
    assert await redis.hlen(sent_key) == 3
    assert await pending(redis) == 0


async def test_a_message_telegram_keeps_failing_on_is_given_up_after_three_deliveries_and_each_admin_told_once(  # noqa: E501
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    fake_telegram.fail_next("sendMessage", Failure.server_error(502), times=1000, chat_id=USER)
    notifier = await po_notifier(start_service, redis)

    await po_message(redis, USER, "Сборка готова, проверьте.", event="build_done")

    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=60)
    await fake_telegram.wait_for_messages(ENV_ADMIN, 1, timeout=20)
    await stop(notifier)
    (letter,) = await dead_letters(redis)
    assert (letter.reason, letter.deliveries) == ("max_deliveries", 3)
    failed = events(notifier, "stream_entry_failed")
    assert [e["attempt"] for e in failed if e["stream"] == keys.PO_PROACTIVE] == [1, 2, 3]
    assert fake_telegram.chat(USER).texts == []
    for admin in (ADMIN, ENV_ADMIN):
        (alert,) = fake_telegram.chat(admin).texts
        assert f"Чат: {USER}" in alert
        assert "Событие: build_done" in alert
        assert "Текст: Сборка готова, проверьте." in alert
        assert "попыток: 3" in alert
    assert await pending(redis) == 0
    assert await pending(redis, DEAD) == 0


async def test_restarts_between_attempts_do_not_reset_the_count_of_deliveries(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # Refused three times only: a count reset by a restart would deliver the fourth try.
    refused = Failure.error(400, "Bad Request: chat not found")
    fake_telegram.fail_next("sendMessage", refused, times=3, chat_id=USER)
    notifier = await po_notifier(start_service, redis)
    await po_message(redis, USER, "reminder")

    for attempt in (1, 2):
        await notifier.wait_for_event("stream_entry_failed", attempt_is(attempt), timeout=20)
        await stop(notifier)
        # The same name: the next run reads its own pending entry again at once.
        notifier = start_notifier(start_service, "notifier-a", **PO)

    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=20)
    await fake_telegram.wait_for_messages(ENV_ADMIN, 1, timeout=20)
    await stop(notifier)
    (letter,) = await dead_letters(redis)
    assert (letter.reason, letter.deliveries) == ("max_deliveries", 3)
    assert fake_telegram.chat(USER).texts == []
    assert len(alerts(fake_telegram, ADMIN)) == len(alerts(fake_telegram, ENV_ADMIN)) == 1


async def test_a_dead_letter_whose_notifier_died_before_the_alert_is_still_told_once(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # As a notifier killed right after dead-lettering leaves it: no admin told yet.
    letter = DeadLetter(
        stream=keys.PO_PROACTIVE,
        entry_id="1-0",
        group=keys.PROACTIVE_GROUP,
        consumer="notifier-gone",
        reason="max_deliveries",
        error="NotDelivered: failed: ServerError: Bad Gateway",
        deliveries=3,
        fields={"text": "Отчёт готов", "telegram_chat_id": str(USER)},
    )
    await redis.xadd(DEAD, encode_entry(letter))  # type: ignore[arg-type]

    first = await po_notifier(start_service, redis, "notifier-a")
    second = await po_notifier(start_service, redis, "notifier-b", readers=2 * READERS)

    for admin in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(admin, 1, timeout=20)
    await stop(first)
    await stop(second)
    for admin in (ADMIN, ENV_ADMIN):
        (alert,) = fake_telegram.chat(admin).texts
        assert alert == (
            "⚠️ Сообщение ассистента пользователю не доставлено\n"
            f"Чат: {USER}\n"
            "Текст: Отчёт готов\n"
            "Причина: доставить не удалось (попыток: 3; "
            "NotDelivered: failed: ServerError: Bad Gateway)"
        )
    assert await pending(redis, DEAD) == 0


async def test_a_message_to_a_removed_user_is_not_delivered_but_logged_counted_and_acknowledged(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    start_service: StartService,
) -> None:
    removed = 5013
    fake_api.users = [user for user in fake_api.users if user["telegram_id"] != removed]
    port = free_port()
    notifier = await po_notifier(start_service, redis, env={"METRICS_PORT": str(port)})

    entry_id = await po_message(redis, removed, "for someone gone")
    await po_message(redis, USER, "for someone here")

    # One consumer handles entries in order: the second delivered means the first handled.
    await fake_telegram.wait_for_messages(USER, 1, timeout=20)
    page = await metrics_page(f"http://127.0.0.1:{port}")
    await stop(notifier)
    assert fake_telegram.chat(removed).texts == []
    (unknown,) = events(notifier, "proactive_chat_unknown")
    assert (unknown["chat_id"], unknown["entry_id"]) == (removed, entry_id)
    assert "for someone gone" not in notifier.logs()
    dropped = "telegram_bot_proactive_dropped_total"
    assert value(page, dropped, reason="chat_unknown") == 1
    assert await pending(redis) == 0
    assert await dead_letters(redis) == []
    assert alerts(fake_telegram, ADMIN) == []


async def test_with_the_api_down_a_message_waits_and_is_delivered_once_it_is_back(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    start_service: StartService,
) -> None:
    notifier = await po_notifier(start_service, redis)
    fake_api.down = True

    await po_message(redis, USER, "after the outage")
    await notifier.wait_for_event(
        "stream_entry_failed", lambda e: e["stream"] == keys.PO_PROACTIVE, timeout=20
    )
    assert fake_telegram.chat(USER).texts == []
    fake_api.down = False

    await fake_telegram.wait_for_messages(USER, 1, timeout=20)
    await stop(notifier)
    assert fake_telegram.chat(USER).texts == ["after the outage"]
    assert await pending(redis) == 0


async def test_a_user_who_blocked_the_bot_is_not_retried_and_no_admin_is_alerted(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    fake_telegram.block(USER)
    notifier = await po_notifier(start_service, redis)

    await po_message(redis, USER, "for a closed door")
    await po_message(redis, 5011, "for an open one")

    await fake_telegram.wait_for_messages(5011, 1, timeout=20)
    await stop(notifier)
    assert len(events(notifier, "proactive_chat_blocked")) == 1
    assert len(fake_telegram.calls_to("sendMessage")) == 2
    assert await pending(redis) == 0
    assert await dead_letters(redis) == []


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"text": "", "telegram_chat_id": str(USER)}, id="empty-text"),
        pytest.param({"telegram_chat_id": str(USER)}, id="no-text"),
        pytest.param({"text": "hello", "telegram_chat_id": "@alan"}, id="chat-id-not-a-number"),
    ],
)
async def test_a_malformed_entry_is_dead_lettered_the_admins_alerted_and_the_next_delivered(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_service: StartService,
    fields: dict[str, str],
) -> None:
    notifier = await po_notifier(start_service, redis)

    await redis.xadd(keys.PO_PROACTIVE, fields)  # type: ignore[arg-type]
    await po_message(redis, USER, "the next one")

    await fake_telegram.wait_for_messages(USER, 1, timeout=20)
    for admin in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(admin, 1, timeout=20)
    await stop(notifier)
    assert fake_telegram.chat(USER).texts == ["the next one"]
    (letter,) = await dead_letters(redis)
    assert (letter.reason, letter.fields) == ("malformed", fields)
    for admin in (ADMIN, ENV_ADMIN):
        (alert,) = fake_telegram.chat(admin).texts
        assert "Причина: запись в po:proactive некорректна" in alert


async def test_a_notifier_of_the_seed_profile_never_reads_po_proactive(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    await po_message(redis, USER, "not for this profile")
    await first_notifier(start_service)  # PO_CONTRACT unset: seed

    # A result told proves the notifier has been reading for a while.
    await publish(redis, success("srv-1"))
    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=20)
    assert await redis.xinfo_groups(keys.PO_PROACTIVE) == []
    assert await redis.exists(DEAD) == 0
    assert fake_telegram.chat(USER).texts == []
