"""The notifier as a real process: every result to every admin, exactly once.

Rates are raised (and the fake's flood limits lifted) so that volume tests
take seconds; the flood budget itself is tested with the sender.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.fakes.api import FakeApi
from services.fakes.telegram import Failure, FakeTelegram
from shared import keys
from shared.schemas import ProvisionerResult, decode_entry, encode_entry
from shared.streams import DeadLetter
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess

ADMIN, ENV_ADMIN, USER = 5001, 5002, 5003
FAST = {
    "TELEGRAM_RATE_CHAT_PER_S": "200",
    "TELEGRAM_RATE_GLOBAL_PER_S": "1000",
    "NOTIFIER_RETRY_AFTER_S": "1",
    # Not the subject here; on, it adds a blocking reader (bot:access:outcomes) that
    # wait_for_blocked_readers would count. tests/services/notifier/test_access_* turn it on.
    "ACCESS_REQUESTS": "false",
}


@pytest.fixture(autouse=True)
def _people(fake_telegram: FakeTelegram, fake_api: FakeApi) -> None:
    fake_telegram.lift_flood_limits()
    fake_api.add_user(ADMIN, is_admin=True, user_id=1)
    fake_api.add_user(USER, user_id=2)


def start_notifier(
    start_service: StartService, name: str = "notifier-a", **env: str
) -> ServiceProcess:
    # ADMIN is both an API admin and in the environment: told once, not twice.
    env = {**FAST, "NOTIFIER_NAME": name, "ADMIN_TELEGRAM_IDS": f"{ENV_ADMIN},{ADMIN}", **env}
    return start_service("notifier", name=name, **env)


async def first_notifier(
    start_service: StartService, name: str = "notifier-a", **env: str
) -> ServiceProcess:
    """A notifier whose group exists: results published from now on are its to deliver."""
    process = start_notifier(start_service, name, **env)
    await process.wait_for_event("stream_group_created", timeout=30)
    return process


async def publish(redis: aioredis.Redis, result: ProvisionerResult) -> None:
    await redis.xadd(keys.PROVISIONER_RESULTS, encode_entry(result))  # type: ignore[arg-type]


async def publish_at_once(redis: aioredis.Redis, results: Sequence[ProvisionerResult]) -> None:
    """Every result in one MULTI/EXEC: a notifier takes them all in one XREADGROUP."""
    async with redis.pipeline(transaction=True) as pipe:
        for result in results:
            pipe.xadd(keys.PROVISIONER_RESULTS, encode_entry(result))  # type: ignore[arg-type]
        await pipe.execute()


async def pending(redis: aioredis.Redis) -> int:
    """Results the group read and has not acknowledged."""
    summary: Any = await redis.xpending(keys.PROVISIONER_RESULTS, keys.NOTIFIER_GROUP)
    return int(summary["pending"])


async def stop(process: ServiceProcess) -> None:
    """SIGTERM and wait for the exit: the result in hand is finished and acknowledged first."""
    assert await process.stop() == 0


def told(process: ServiceProcess) -> int:
    """How many results this process finished telling every admin (its log)."""
    return sum(1 for event in process.events() if event.get("event") == "result_notified")


async def wait_for_blocked_readers(redis: aioredis.Redis, count: int) -> None:
    """Wait until ``count`` clients of this database wait in a blocking XREADGROUP.

    Redis tells no one when a client starts blocking, so this asks CLIENT
    LIST on a short interval, bounded like ``ServiceProcess.wait_for_event``.
    """
    db = str(redis.connection_pool.connection_kwargs.get("db", 0))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        clients: list[dict[str, Any]] = await redis.client_list()
        readers = [
            c for c in clients if c["db"] == db and c["cmd"] == "xreadgroup" and "b" in c["flags"]
        ]
        if len(readers) >= count:
            return
        assert loop.time() < deadline, f"{len(readers)} of {count} readers waiting: {clients}"
        await asyncio.sleep(0.02)


def success(handle: str) -> ProvisionerResult:
    return ProvisionerResult(server_handle=handle, status="success", server_ip="203.0.113.9")


def handles_told(fake_telegram: FakeTelegram, chat_id: int) -> Counter[str]:
    """How many times each server was announced in the chat (third word of the text)."""
    return Counter(text.split()[2] for text in fake_telegram.chat(chat_id).texts)


async def test_admins_from_the_api_and_the_environment_each_get_the_result_once(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    await first_notifier(start_service)

    await publish(redis, success("srv-1"))

    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=20)
    await fake_telegram.wait_for_messages(ENV_ADMIN, 1, timeout=20)
    await fake_telegram.wait_for_call("sendMessage", count=2)
    assert handles_told(fake_telegram, ADMIN) == {"srv-1": 1}
    assert handles_told(fake_telegram, ENV_ADMIN) == {"srv-1": 1}
    assert fake_telegram.chat(USER).texts == []


async def test_an_html_hostile_server_name_reads_exactly_as_written(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    await first_notifier(start_service)

    await publish(
        redis,
        ProvisionerResult(server_handle="<b>x&y</b>", status="failed", error="a < b && c > d"),
    )

    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=20)
    (text,) = fake_telegram.chat(ADMIN).texts
    assert text == "❌ Настройка сервера <b>x&y</b>: ошибка\na < b && c > d"


@pytest.mark.parametrize(
    ("result", "text"),
    [
        pytest.param(
            ProvisionerResult(
                server_handle="srv-ok",
                status="success",
                server_ip="203.0.113.9",
                services_redeployed=3,
                duration_ms=84_500,
            ),
            "✅ Сервер srv-ok настроен\nIP: 203.0.113.9\nПерезапущено сервисов: 3\n"
            "Длительность: 1 мин 24 с",
            id="success",
        ),
        pytest.param(
            ProvisionerResult(server_handle="srv-err", status="error", error="ansible exited 2"),
            "❌ Настройка сервера srv-err: сбой\nansible exited 2",
            id="error",
        ),
        pytest.param(
            ProvisionerResult(server_handle="srv-slow", status="timeout"),
            "❌ Настройка сервера srv-slow: превышено время ожидания",
            id="timeout",
        ),
        pytest.param(
            ProvisionerResult(
                server_handle="srv-many",
                status="failed",
                errors=[f"step {i} failed" for i in range(50)],
            ),
            "❌ Настройка сервера srv-many: ошибка\n"
            + "".join(f"• step {i} failed\n" for i in range(5))
            + "…и ещё 45",
            id="fifty-errors",
        ),
    ],
)
async def test_each_kind_of_result_reads_to_an_admin_exactly_as_worded(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_service: StartService,
    result: ProvisionerResult,
    text: str,
) -> None:
    await first_notifier(start_service)

    await publish(redis, result)

    for chat in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(chat, 1, timeout=20)
        assert fake_telegram.chat(chat).texts == [text]


async def test_a_result_is_sent_as_plain_text_with_no_parse_mode(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    await first_notifier(start_service)

    await publish(redis, success("srv-1"))

    await fake_telegram.wait_for_call("sendMessage", count=2, timeout=20)
    calls = fake_telegram.calls_to("sendMessage")
    assert [(c.chat_id, c.ok) for c in calls] == [(ADMIN, True), (ENV_ADMIN, True)]
    assert not [c.params["parse_mode"] for c in calls if "parse_mode" in c.params]


async def test_a_result_with_odd_but_readable_fields_still_goes_out(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # CONTRACTS.md: liberal in what we accept. None of these is in the contract.
    await first_notifier(start_service)

    data = (
        b'{"server_handle": "srv-odd", "status": "cancelled", "duration_ms": 1234.5,'
        b' "services_redeployed": null, "errors": ["disk full", null, 7]}'
    )
    await redis.xadd(keys.PROVISIONER_RESULTS, {"data": data})

    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=20)
    assert fake_telegram.chat(ADMIN).texts == [
        "❌ Настройка сервера srv-odd: cancelled\n• disk full\n• 7"
    ]
    assert await redis.xlen(keys.dead_letter(keys.PROVISIONER_RESULTS)) == 0


async def test_a_result_whose_errors_are_not_a_list_is_dead_lettered(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    await first_notifier(start_service)

    data = b'{"server_handle": "srv-bad", "status": "failed", "errors": "disk full"}'
    await redis.xadd(keys.PROVISIONER_RESULTS, {"data": data})
    await publish(redis, success("srv-after"))

    # One consumer handles entries in order: srv-after told means srv-bad was handled.
    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=20)
    assert handles_told(fake_telegram, ADMIN) == {"srv-after": 1}
    entries: Any = await redis.xrange(keys.dead_letter(keys.PROVISIONER_RESULTS))
    ((_, fields),) = entries
    letter = decode_entry(fields, DeadLetter)
    assert (letter.reason, letter.fields) == ("malformed", {"data": data.decode()})
    assert "errors" in letter.error


async def test_a_result_with_unknown_extra_fields_still_goes_out(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    await first_notifier(start_service)

    data = b'{"server_handle": "srv-x", "status": "success", "new_field": {"a": [1]}}'
    await redis.xadd(keys.PROVISIONER_RESULTS, {"data": data})

    await fake_telegram.wait_for_messages(ADMIN, 1, timeout=20)
    assert handles_told(fake_telegram, ADMIN) == {"srv-x": 1}


async def test_a_malformed_entry_is_dead_lettered_and_its_neighbours_delivered(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    await first_notifier(start_service)

    await publish(redis, success("srv-before"))
    await redis.xadd(keys.PROVISIONER_RESULTS, {"data": b'{"status": "success"}'})
    await publish(redis, success("srv-after"))

    await fake_telegram.wait_for_messages(ADMIN, 2, timeout=20)
    assert handles_told(fake_telegram, ADMIN) == {"srv-before": 1, "srv-after": 1}
    entries: Any = await redis.xrange(keys.dead_letter(keys.PROVISIONER_RESULTS))
    ((_, fields),) = entries
    letter = decode_entry(fields, DeadLetter)
    assert letter.reason == "malformed"
    assert "server_handle" in letter.error
    assert await redis.xlen(keys.PROVISIONER_RESULTS) == 3, "never trimmed or deleted from"


async def kill_mid_batch(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> list[str]:
    """Kill -9 a notifier holding a batch of results, none acknowledged; their handles.

    Telegram asks the notifier to hold off ENV_ADMIN's chat: it is killed
    while waiting, with srv-0 already sent to ADMIN and not yet to ENV_ADMIN,
    and srv-1..srv-9 read in the same XREADGROUP and not yet begun.
    """
    fake_telegram.fail_next("sendMessage", Failure.too_many_requests(2), chat_id=ENV_ADMIN)
    first = await first_notifier(start_service)
    handles = [f"srv-{i}" for i in range(10)]
    await publish_at_once(redis, [success(handle) for handle in handles])

    # Paused: the 429 is in Redis, and a restarted notifier waits out only its rest.
    await first.wait_for_event("flood_paused", lambda e: e["chat_id"] == ENV_ADMIN, timeout=20)
    assert handles_told(fake_telegram, ADMIN) == {"srv-0": 1}
    assert await pending(redis) == len(handles)
    first.kill()
    return handles


async def assert_each_told_once(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, second: ServiceProcess, handles: list[str]
) -> None:
    """Once ``second`` told both admins every result: each once, and none left pending."""
    for chat in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(chat, len(handles), timeout=30)
    await stop(second)
    for chat in (ADMIN, ENV_ADMIN):
        assert handles_told(fake_telegram, chat) == dict.fromkeys(handles, 1)
    assert await pending(redis) == 0


async def test_a_kill_mid_batch_then_a_restart_loses_and_repeats_nothing(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    handles = await kill_mid_batch(fake_telegram, redis, start_service)

    # The same replica, restarted: the same consumer name reads its own pending results.
    second = start_notifier(start_service, "notifier-a")

    await assert_each_told_once(fake_telegram, redis, second, handles)


async def test_a_kill_mid_batch_then_a_notifier_of_another_name_loses_and_repeats_nothing(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    handles = await kill_mid_batch(fake_telegram, redis, start_service)

    # Another name (the default one has the pid in it): XAUTOCLAIM takes the dead
    # consumer's results once idle for NOTIFIER_RETRY_AFTER_S.
    second = start_notifier(start_service, "notifier-b")

    await assert_each_told_once(fake_telegram, redis, second, handles)
    assert told(second) == len(handles)


async def test_two_notifiers_deliver_each_result_once_and_both_take_a_share(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # No retries here: each result is handled by the one notifier that read it.
    slow_retry = {"NOTIFIER_RETRY_AFTER_S": "60"}
    first = await first_notifier(start_service, "notifier-a", **slow_retry)
    second = start_notifier(start_service, "notifier-b", **slow_retry)
    await wait_for_blocked_readers(redis, 2)
    handles = [f"srv-{i}" for i in range(40)]

    # Redis hands each waiting reader a batch (at most 16): neither can take all 40.
    await publish_at_once(redis, [success(handle) for handle in handles])

    for chat in (ADMIN, ENV_ADMIN):
        await fake_telegram.wait_for_messages(chat, len(handles), timeout=30)
    await fake_telegram.wait_for_call("sendMessage", count=2 * len(handles))
    await stop(first)
    await stop(second)
    for chat in (ADMIN, ENV_ADMIN):
        assert handles_told(fake_telegram, chat) == dict.fromkeys(handles, 1)
    assert told(first) >= 1
    assert told(second) >= 1
    assert told(first) + told(second) == len(handles)


async def test_with_the_api_down_env_admins_hear_at_once_and_api_admins_after_it_recovers(
    fake_telegram: FakeTelegram,
    fake_api: FakeApi,
    redis: aioredis.Redis,
    start_service: StartService,
) -> None:
    fake_api.add_user(ENV_ADMIN + 100, is_admin=True, user_id=3)  # known only through the API
    fake_api.down = True
    await first_notifier(start_service)

    await publish(redis, success("srv-1"))
    await fake_telegram.wait_for_messages(ENV_ADMIN, 1, timeout=20)
    assert fake_telegram.chat(ENV_ADMIN + 100).texts == []

    fake_api.down = False
    await fake_telegram.wait_for_messages(ENV_ADMIN + 100, 1, timeout=20)
    assert handles_told(fake_telegram, ENV_ADMIN + 100) == {"srv-1": 1}
    assert handles_told(fake_telegram, ENV_ADMIN) == {"srv-1": 1}
    assert handles_told(fake_telegram, ADMIN) == {"srv-1": 1}


async def test_an_admin_who_blocked_the_bot_does_not_hold_up_the_others(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    fake_telegram.block(ADMIN)
    await first_notifier(start_service)

    await publish(redis, success("srv-1"))
    await publish(redis, success("srv-2"))

    await fake_telegram.wait_for_messages(ENV_ADMIN, 2, timeout=20)
    assert handles_told(fake_telegram, ENV_ADMIN) == {"srv-1": 1, "srv-2": 1}
    assert fake_telegram.chat(ADMIN).texts == []


async def test_an_admin_whose_chat_telegram_cannot_find_does_not_keep_the_result_pending(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # An ADMIN_TELEGRAM_IDS id that never started the bot: Telegram will never take it.
    chat_not_found = Failure.error(400, "Bad Request: chat not found")
    fake_telegram.fail_next("sendMessage", chat_not_found, times=100, chat_id=ENV_ADMIN)
    notifier = await first_notifier(start_service)

    await publish(redis, success("srv-1"))
    await publish(redis, success("srv-2"))

    await fake_telegram.wait_for_messages(ADMIN, 2, timeout=20)
    await stop(notifier)
    assert await pending(redis) == 0
    assert handles_told(fake_telegram, ADMIN) == {"srv-1": 1, "srv-2": 1}
    assert fake_telegram.chat(ENV_ADMIN).texts == []
    unreachable = [e for e in notifier.events() if e.get("event") == "admin_unreachable"]
    assert [(e["telegram_id"], e["reason"]) for e in unreachable] == [(ENV_ADMIN, "rejected")] * 2
    assert "chat not found" in unreachable[0]["error"]


async def test_a_refusal_of_the_bot_itself_keeps_the_result_for_a_retry(
    fake_telegram: FakeTelegram, redis: aioredis.Redis, start_service: StartService
) -> None:
    # 401 says the token is wrong, not the chat: every admin would be refused alike.
    fake_telegram.fail_next("sendMessage", Failure.error(401, "Unauthorized"), chat_id=ENV_ADMIN)
    await first_notifier(start_service)

    await publish(redis, success("srv-1"))

    await fake_telegram.wait_for_messages(ENV_ADMIN, 1, timeout=20)
    assert handles_told(fake_telegram, ENV_ADMIN) == {"srv-1": 1}
    assert handles_told(fake_telegram, ADMIN) == {"srv-1": 1}
