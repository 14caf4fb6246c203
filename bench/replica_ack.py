"""What ``REDIS_MIN_REPLICAS_ACK=1`` adds to one intake store (issue 19), on this machine.

A real master and a real replica (``--replicaof``) on free ports; one
``Intake`` stores one chat message per call, sequentially, ``--n`` times
with ``min_replicas_ack=0`` and then ``=1`` (the store script and a
``WAIT 1`` on one connection). Prints p50/p90/p99 per setting. The full
200 msg/s comparison against a Sentinel set-up is ``bench/relay.py --ha``
(later).

    PYTHONPATH=$PWD .venv/bin/python bench/replica_ack.py --n 2000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import redis.asyncio as aioredis

from services.fakes.redis_server import RedisServer
from services.ingress.batch import IntakeBatch
from services.ingress.intake import Intake
from shared import log
from shared.schemas import IncomingMessage, new_id


def one_message(update_id: int) -> IntakeBatch:
    batch = IntakeBatch()
    batch.add(
        IncomingMessage(
            user_id=7,
            telegram_id=1001,
            chat_id=1001,
            message_id=update_id,
            text="a message of an ordinary length, some forty to sixty characters",
            update_id=update_id,
            request_id=new_id(),
        )
    )
    return batch


async def measure(intake: Intake, first_id: int, n: int) -> list[float]:
    for warm in range(50):
        await intake.store(one_message(first_id - 1000 + warm))
    took = []
    for update_id in range(first_id, first_id + n):
        batch = one_message(update_id)
        start = time.perf_counter()
        await intake.store(batch)
        took.append((time.perf_counter() - start) * 1000)
    return took


def line(name: str, took: list[float]) -> str:
    q = statistics.quantiles(took, n=100)
    return f"{name}: p50 {q[49]:.3f} ms, p90 {q[89]:.3f} ms, p99 {q[98]:.3f} ms (n={len(took)})"


async def main(n: int) -> None:
    log.configure("bench", level="WARNING", fmt="json")
    with RedisServer(options=("--repl-diskless-sync-delay", "0")) as master:
        options = ("--replicaof", "127.0.0.1", str(master.port))
        with RedisServer(options=options):
            client = aioredis.Redis.from_url(master.url)
            await client.set("synced", "1")
            assert await client.wait(1, 10_000) == 1, "the replica did not sync"
            plain = await measure(Intake(client), 1_000_000, n)
            waited = await measure(Intake(client, min_replicas_ack=1), 2_000_000, n)
            await client.aclose()
    print(line("REDIS_MIN_REPLICAS_ACK=0", plain))
    print(line("REDIS_MIN_REPLICAS_ACK=1", waited))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="stores per setting")
    asyncio.run(main(parser.parse_args().n))
