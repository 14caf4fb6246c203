"""PO sessions: which worker serves a user, and spawning one when needed (spec 4.3)."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from shared import keys
from shared.log import get_logger
from shared.schemas import CreateWorkerCommand, WorkerConfig, encode_entry

log = get_logger(__name__)

# A worker coming up (STARTING, BUILDING) or paused is reused: never spawn
# a second one beside it.
REUSABLE = frozenset({"RUNNING", "STARTING", "BUILDING", "PAUSED"})
SPAWN_GUARD_S = 60


class Sessions:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        api_url: str,
        instructions: str,
        allowed_commands: list[str],
    ) -> None:
        self._redis = redis
        self._api_url = api_url
        self._instructions = instructions
        self._allowed_commands = allowed_commands

    async def worker_for(self, user_id: int, telegram_id: int) -> str:
        """The user's worker id, reusing a live worker or spawning a new one."""
        session_key = keys.session(user_id)
        worker_id = _text(await self._redis.get(session_key))
        if worker_id is not None:
            status = await self.status(worker_id)
            if status in REUSABLE:
                await self._redis.expire(session_key, keys.SESSION_TTL_S)
                return worker_id
        return await self._spawn(user_id, telegram_id)

    async def status(self, worker_id: str) -> str | None:
        """``HGET worker:status:{id} status``; an old worker-manager wrote a plain string."""
        key = keys.worker_status(worker_id)
        try:
            value = await self._redis.hget(key, "status")
        except ResponseError:  # WRONGTYPE: the status was stored as a string
            value = await self._redis.get(key)
        status = _text(value)
        return status.strip().upper() if status else None

    async def _spawn(self, user_id: int, telegram_id: int) -> str:
        worker_id = keys.po_worker_id(user_id)
        # The guard makes concurrent first messages on several relays give one command.
        if await self._redis.set(keys.spawn_guard(user_id), worker_id, nx=True, ex=SPAWN_GUARD_S):
            command = self._create_command(user_id, telegram_id)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(keys.WORKER_COMMANDS, encode_entry(command))  # type: ignore[arg-type]
                pipe.set(keys.session(user_id), worker_id, ex=keys.SESSION_TTL_S)
                await pipe.execute()
            log.info("po_spawn_requested", user_id=user_id, worker_id=worker_id)
        else:
            await self._redis.set(keys.session(user_id), worker_id, ex=keys.SESSION_TTL_S)
        return worker_id

    def _create_command(self, user_id: int, telegram_id: int) -> CreateWorkerCommand:
        return CreateWorkerCommand(
            config=WorkerConfig(
                name=keys.po_worker_id(user_id),
                instructions=self._instructions,
                allowed_commands=list(self._allowed_commands),
                env_vars={"USER_ID": str(user_id), "API_URL": self._api_url},
            ),
            context={"role": "product_owner", "user_telegram_id": str(telegram_id)},
        )


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
