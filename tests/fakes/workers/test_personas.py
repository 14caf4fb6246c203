"""PO personas: a PO that streams slowly, and one that writes again on its own."""

from __future__ import annotations

import itertools
import time
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.workers import FakeWorkerManager, Profile
from services.fakes.workers.personas import proactive, streaming, thinking_aloud
from services.fakes.workers.wire import output_stream
from tests.fakes.workers import USER, entries, running

both_profiles = pytest.mark.parametrize("po_contract", ["seed", "worker-streams"])


async def started(wm: FakeWorkerManager) -> None:
    await wm.create(USER)
    await wm.wait_for(lambda: running(wm))


async def written(redis: aioredis.Redis, profile: Profile) -> list[dict[str, Any]]:
    stream = output_stream(profile, USER)
    return [msgspec.json.decode(f[b"data"]) for f in await entries(redis, stream)]


@pytest.mark.parametrize("po_contract", ["seed"])
async def test_the_streaming_persona_thinks_then_writes_growing_snapshots_then_the_final(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    fake_workers.scripts[USER] = streaming(think_s=0.3, step_s=0.05, steps=4)
    await started(fake_workers)

    asked = time.monotonic()
    message = await fake_workers.send(USER, "a landing page")
    await fake_workers.wait_for(lambda: any(o.is_final for o in fake_workers.outputs))

    assert time.monotonic() - asked >= 0.3 + 4 * 0.05
    texts = [o["text"] for o in await written(redis, "seed")]
    assert [o["is_final"] for o in await written(redis, "seed")] == [False, False, False, True]
    assert texts[-1] == thinking_aloud(message)
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert len(set(texts)) == 4


@pytest.mark.parametrize("po_contract", ["worker-streams"])
async def test_the_streaming_persona_answers_as_slowly_in_one_entry_without_snapshots(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis
) -> None:
    fake_workers.scripts[USER] = streaming(think_s=0.3, step_s=0.05, steps=4)
    await started(fake_workers)

    asked = time.monotonic()
    message = await fake_workers.send(USER, "a landing page")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)

    assert time.monotonic() - asked >= 0.3 + 4 * 0.05
    assert await written(redis, "worker-streams") == [
        {"content": thinking_aloud(message), "status": "success"}
    ]


@both_profiles
async def test_the_proactive_persona_writes_a_reminder_of_its_own_after_the_delay(
    fake_workers: FakeWorkerManager, redis: aioredis.Redis, po_contract: Profile
) -> None:
    fake_workers.scripts[USER] = proactive(after_s=0.5)
    await started(fake_workers)

    message = await fake_workers.send(USER, "deploy the shop")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)
    replied = time.monotonic()
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 2)

    assert time.monotonic() - replied >= 0.4
    echo, reminder = fake_workers.outputs
    assert echo.text == "echo: deploy the shop"
    assert reminder.text.startswith("Напоминание:")
    assert "deploy the shop" in reminder.text
    assert reminder.request_id != message.request_id
    last = (await written(redis, po_contract))[-1]
    if po_contract == "seed":
        assert (last["text"], last["is_final"]) == (reminder.text, True)
        assert last["request_id"] == reminder.request_id
    else:
        assert last == {"content": reminder.text, "status": "success"}


async def test_a_newer_message_starts_the_proactive_wait_again(
    fake_workers: FakeWorkerManager,
) -> None:
    fake_workers.scripts[USER] = proactive(after_s=0.5)
    await started(fake_workers)

    await fake_workers.send(USER, "first")
    await fake_workers.send(USER, "second")
    await fake_workers.wait_for(lambda: any("second" in o.text for o in fake_workers.outputs[2:]))

    # Had the first message's wait not been restarted, its reminder would have come first.
    assert [o.text for o in fake_workers.outputs][:2] == ["echo: first", "echo: second"]
    assert len(fake_workers.outputs) == 3


async def test_without_a_persona_the_po_writes_nothing_of_its_own(
    fake_workers: FakeWorkerManager,
) -> None:
    await started(fake_workers)

    await fake_workers.send(USER, "hi")
    await fake_workers.wait_for(lambda: len(fake_workers.outputs) == 1)
    rounds = fake_workers.read_calls
    await fake_workers.wait_for(lambda: fake_workers.read_calls >= rounds + 2)

    assert [o.text for o in fake_workers.outputs] == ["echo: hi"]
