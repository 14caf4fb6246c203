"""Is the Redis safe for the bot's promises? Three settings read once at start.

Every process that uses Redis (ingress, relay, notifier) calls
:func:`check_redis` first thing in its ``serve``::

    redis_safety = await check_redis(settings)
    if redis_safety.refused:
        return EXIT_CONFIG

It reads, with ``CONFIG GET``, the settings the bot's guarantees rest on
(docs/ARCHITECTURE.md, "Redis settings"):

* ``maxmemory-policy``: only ``noeviction`` is safe. ``allkeys-*`` can
  evict streams, cursors and leases; ``volatile-*`` the keys with a TTL:
  leases, sessions, dedupe and idempotency keys (a duplicate message or a
  second PO), the flood budget;
* ``appendonly``: without an AOF a restart loses everything written
  since the last snapshot, updates Telegram was told we had included;
* ``appendfsync`` (only with an AOF): ``always`` keeps "nothing
  acknowledged is lost"; ``everysec`` can lose up to about two seconds of
  acknowledged writes in a crash (of the host; of Redis itself only while
  its disk is slow, when it holds writes back), ``no`` what the kernel had
  not written yet.

Each problem is one warning (``redis_unsafe``: the setting, its value,
what it risks), and ``/healthz`` lists them (``warnings.redis_config``)
without failing. With ``REDIS_REQUIRE_SAFE=true`` a problem is instead
one error line (``redis_unsafe_refused``) and the process exits with the
configuration-error status. Where the settings cannot be read (``CONFIG``
renamed or forbidden, as on managed Redis; Redis unreachable at start)
one warning says so (``redis_config_unchecked``) and the process goes on,
``REDIS_REQUIRE_SAFE`` or not: what cannot be checked cannot be refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from shared.connections import redis_client, text
from shared.log import get_logger
from shared.settings import BaseSettings

log = get_logger(__name__)

HEALTH_ENTRY: Final = "redis_config"
"""The name ``/healthz`` lists the problems under (``warnings``)."""
SETTINGS: Final = ("maxmemory-policy", "appendonly", "appendfsync")
EVICTION_RISK: Final = (
    "evicts keys when Redis is full: streams, cursors and leases can vanish "
    "(messages lost, a partition served twice)"
)
VOLATILE_RISK: Final = (
    "evicts keys with a TTL when Redis is full: leases, sessions, dedupe and "
    "idempotency keys (a partition served twice, a message forwarded or sent twice)"
)
NO_AOF_RISK: Final = (
    "a Redis restart loses what was written since the last snapshot, acknowledged updates included"
)
FSYNC_RISK: Final = {
    "everysec": "a crash (of the host, or of Redis while its disk is slow) can lose up to "
    "about 2 s of acknowledged writes",
    "no": "a host crash or power loss loses whatever the kernel had not yet written (often 30 s)",
}


@dataclass(frozen=True)
class Problem:
    """One unsafe setting: its name, its value and what it risks."""

    setting: str
    value: str
    risk: str

    def __str__(self) -> str:
        return f"{self.setting}={self.value}: {self.risk}"


@dataclass(frozen=True)
class RedisSafety:
    """What the start-up check found."""

    problems: tuple[Problem, ...] = ()
    unchecked: str | None = None
    """Why some or all of the settings could not be read."""
    refused: bool = False
    """``REDIS_REQUIRE_SAFE`` and a problem: the process must not start."""

    @property
    def health_warnings(self) -> dict[str, list[str]]:
        """What ``/healthz`` lists under ``warnings``: nothing for a safe Redis."""
        entries = [f"not checked: {self.unchecked}"] if self.unchecked is not None else []
        entries += [str(problem) for problem in self.problems]
        return {HEALTH_ENTRY: entries} if entries else {}


def assess(config: Mapping[str, str]) -> tuple[Problem, ...]:
    """The problems of these settings' values (a missing one is not judged)."""
    problems = []
    policy = config.get("maxmemory-policy")
    if policy is not None and policy != "noeviction":
        risk = VOLATILE_RISK if policy.startswith("volatile-") else EVICTION_RISK
        problems.append(Problem("maxmemory-policy", policy, risk))
    aof = config.get("appendonly")
    if aof is not None and aof != "yes":
        problems.append(Problem("appendonly", aof, NO_AOF_RISK))
    fsync = config.get("appendfsync")
    # Without an AOF the fsync policy means nothing: one problem, not two.
    if aof == "yes" and fsync is not None and fsync != "always":
        problems.append(Problem("appendfsync", fsync, FSYNC_RISK.get(fsync, FSYNC_RISK["no"])))
    return tuple(problems)


async def read_config(client: aioredis.Redis) -> dict[str, str]:
    """The three settings as Redis reports them; one absent where Redis hides it."""
    found: dict[str, str] = {}
    for name in SETTINGS:
        # One CONFIG GET each: several names in one call need Redis 7.
        reply: Any = await client.config_get(name)
        found.update({text(key): text(value) for key, value in reply.items()})
    return {name: found[name] for name in SETTINGS if name in found}


async def inspect(client: aioredis.Redis, *, require_safe: bool = False) -> RedisSafety:
    """Read and judge the settings, logging once per problem (or once why not)."""
    try:
        config = await read_config(client)
    except ResponseError as exc:
        # "ERR unknown command" (renamed) or NOPERM (an ACL): managed Redis.
        return _unchecked("CONFIG GET refused (renamed, or not allowed to this user)", exc)
    except (RedisError, OSError) as exc:
        return _unchecked("Redis unreachable at start", exc)
    hidden = [name for name in SETTINGS if name not in config]
    unchecked = f"not reported by Redis: {', '.join(hidden)}" if hidden else None
    if unchecked is not None:
        # A proxy answering CONFIG GET with nothing: what it hides is not judged.
        log.warning("redis_config_unchecked", reason=unchecked)
    problems = assess(config)
    if problems and require_safe:
        log.error(
            "redis_unsafe_refused",
            problems="; ".join(str(problem) for problem in problems),
            fix="set these in Redis (docs/ARCHITECTURE.md, 'Redis settings'), "
            "or unset REDIS_REQUIRE_SAFE to start with warnings",
        )
        return RedisSafety(problems, unchecked, refused=True)
    for problem in problems:
        log.warning("redis_unsafe", setting=problem.setting, value=problem.value, risk=problem.risk)
    return RedisSafety(problems, unchecked)


async def check_redis(settings: BaseSettings) -> RedisSafety:
    """:func:`inspect` the Redis at ``REDIS_URL`` with a client of its own, closed after."""
    client = redis_client(settings)
    try:
        return await inspect(client, require_safe=settings.redis_require_safe)
    finally:
        await client.aclose()


def _unchecked(reason: str, exc: Exception) -> RedisSafety:
    # The error's type only: a message can name a host, a user or a URL.
    log.warning("redis_config_unchecked", reason=reason, error=type(exc).__name__)
    return RedisSafety(unchecked=reason)
