"""Relay benchmark: the latency the relay adds, its throughput, and the cost of idle sessions.

    .venv/bin/python -m bench.relay [--users 100] [--rate 200] [--seconds 10]
                                    [--idle-sessions 10000] [--idle-seconds 30]
    .venv/bin/python -m bench.relay --profile seed|worker-streams|po-service|all
                                    [--rounds 1] [--relays 1] [--users/--rate/--seconds]

Starts its own ``redis-server`` and, in this process, a fake Telegram with
its flood limits lifted and an echo PO (one blocking ``XREAD`` over every
user's input stream, answering at once). Relays are real ``telegram-bot
relay`` processes (``TELEGRAM_RATE_*`` raised so the shared flood budget is
not what is measured). The users' sessions are open (``session:{u}``,
status ``RUNNING``), as for users already talking to their PO.

For 1 relay, then 2:

* latency: ``--rate`` messages per second for ``--seconds``, spread over
  ``--users`` users (open loop: the schedule does not wait for replies).
  Each message is timed from just before its ``XADD`` to
  ``bot:incoming:{p}`` until the fake Telegram received the reply's
  ``sendMessage``, minus the PO's own time (from the PO reading the input
  to its output being written). What is left is what the bot adds: the
  relay reading, forwarding (session check in the same script), and, on the
  way back, reading the output and sending it;
* throughput: ``--users`` × 20 messages written at once; messages per second
  from the first write to the last reply received.

Then the same latency run through the whole bot, as the issue defines it
("from update to sendMessage"): a real ``telegram-bot ingress`` process
polls the fake Telegram (users whitelisted by a fake API in this process),
and each message is timed from just before it is posted to the fake
Telegram as a user's message (``POST /_fake/chats/{chat}/messages``: the
update exists when that returns) until the reply's ``sendMessage``, minus
the PO's time. The ingress's long poll, aiogram, the auth check and its
``XADD`` are in it. The goal is judged on these rows.

Then idle: ``--idle-sessions`` open sessions (active users with a reply
cursor), one relay; after it loaded them and settled, its CPU (from
``/proc/<pid>/stat``) over ``--idle-seconds`` and its RSS (``VmRSS``), then
the latency of single messages to idle users.

Prints a Markdown summary; exit status 1 if a goal is missed (p99 added at
most 15 ms at 200 msg/s, idle CPU at most 2 % of a core, RSS at most 100 MB).
This module is the command line; the runs are in ``bench.scenarios``.

With ``--profile``, only the PO contract profiles are compared: for each
round, the relay-only latency run (and its burst) once per profile, one
after the other on the same Redis and machine (each round starting one
profile later), the relays started with
``PO_CONTRACT`` set to it and the echo PO speaking its wire shape (see
``bench.echo_po``; ``po-service`` opens no session). A row per profile and
round, with its p99 minus ``seed``'s of the same round; exit status 1 if a
profile's is more than 2 ms above it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import redis.asyncio as aioredis

from bench import machine
from bench.echo_po import PROFILES
from bench.processes import FakeTelegramProcess
from bench.report import (
    LoadResult,
    goals_met,
    profile_goals_met,
    profiles_report,
    report,
)
from bench.scenarios import Rig, idle_scenario, load_scenario
from bench.timeline import Timeline
from services.fakes.redis_server import RedisServer
from services.fakes.telegram import DEFAULT_TOKEN


async def run(args: argparse.Namespace) -> int:
    timeline = Timeline()
    fake = FakeTelegramProcess()
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        await fake.start()
        redis = aioredis.Redis.from_url(server.url)
        try:
            rig = Rig(
                url=server.url,
                redis=redis,
                fake=fake,
                timeline=timeline,
                env={
                    "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                    "TELEGRAM_API_URL": fake.url,
                    "REDIS_URL": server.url,
                    "LOG_FORMAT": "json",
                    "LOG_LEVEL": "INFO",
                    "TELEGRAM_RATE_GLOBAL_PER_S": "100000",
                    "TELEGRAM_RATE_CHAT_PER_S": "1000",
                },
                log_dir=Path(tmp),
            )
            if args.profile is not None:
                rounds = await _profile_rounds(rig, args)
            else:
                loads = [
                    await load_scenario(
                        rig, relays, args.users, args.rate, args.seconds, whole_bot=whole_bot
                    )
                    for whole_bot in (False, True)
                    for relays in (1, 2)
                ]
                idle = await idle_scenario(rig, args.idle_sessions, args.idle_seconds)
            calibration = machine.describe(server.url)
        finally:
            await redis.aclose()
            await fake.stop()
    if args.profile is not None:
        print(profiles_report(rounds))
        print(calibration)
        return 0 if profile_goals_met(rounds) else 1
    print(report(loads, idle))
    print(calibration)
    return 0 if goals_met(loads, idle) else 1


async def _profile_rounds(rig: Rig, args: argparse.Namespace) -> list[list[LoadResult]]:
    """The same load per profile, ``--rounds`` times: the rounds show the run's noise.
    Each round starts one profile later, so none always runs last (as the host warms)."""
    profiles = PROFILES if args.profile == "all" else (args.profile,)
    rounds = []
    for n in range(args.rounds):
        turn = n % len(profiles)
        rounds.append(
            [
                await load_scenario(
                    rig, args.relays, args.users, args.rate, args.seconds, profile=profile
                )
                for profile in (*profiles[turn:], *profiles[:turn])
            ]
        )
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle-sessions", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--profile", choices=[*PROFILES, "all"], default=None)
    parser.add_argument("--rounds", type=int, default=1, help="with --profile")
    parser.add_argument("--relays", type=int, default=1, help="with --profile")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
