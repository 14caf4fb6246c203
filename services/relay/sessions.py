"""PO sessions and forwarding (spec 4.3, 4.4): one atomic script per chat message.

``forward.lua`` does, in one fenced step on Redis: the lease check and the
dedupe against ``bot:fwd:{p}``; the session and the worker's status; a
spawn unless a worker is reusable or a create is in flight; the session's,
chat's, reply cursor's, start watch's and "typing…" records; the PO input;
the move of ``bot:fwd:{p}`` and the trim of ``bot:incoming:{p}`` up to it.
A crash leaves all of it done or none, and one needed spawn gives one
create command, even across a lease handover. The steps in detail: the
relay's "Incoming" section of ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Protocol

import redis.asyncio as aioredis

from services.relay import keyspace
from services.relay.contracts import SEED, POContract
from shared import keys
from shared.connections import text
from shared.schemas import CreateWorkerCommand, IncomingMessage, WorkerConfig, encode, new_id
from shared.scripts import register

_STATUS_PREFIX: Final = keys.worker_status("")


@dataclass(frozen=True)
class Forwarded:
    worker_id: str
    spawned: bool
    status: str
    """The worker's status before this message ('' when none)."""
    reply_cursor: str
    """Where the user's replies are read from (after the last one handled)."""
    watch: str
    """The start watch this message opened (its raw JSON), or ''."""
    input_id: str
    request_id: str = ""
    """The request id the PO input carries."""


@dataclass(frozen=True)
class Duplicate:
    """The entry was forwarded before: a re-read, or a retry after a lost answer."""

    last_forwarded: str
    reply_cursor: str
    """The user's reply cursor ('' if none): a retry must still make replies flow."""
    watch: str


@dataclass(frozen=True)
class AlbumTaken:
    """The later parts of an album forwarded as one message with its first part.

    Recorded by the forwarding script in the same step (``bot:albums:{user}``):
    a later part reaching the head of the partition is then skipped
    (:mod:`services.relay.albums`), by this relay or the next owner.
    """

    group: str
    """The album (Telegram's ``media_group_id``)."""
    first: str
    """The entry id of the first part (the one forwarded)."""
    last: str
    """The entry id of the last part included."""

    @property
    def record(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Lost:
    """This relay no longer owns the partition: nothing was written."""


ForwardResult = Forwarded | Duplicate | Lost


class Forwarder(Protocol):
    """What the incoming reader needs: one message to the PO side, once, fenced."""

    async def forward(
        self,
        partition: int,
        entry_id: str,
        message: IncomingMessage,
        album: AlbumTaken | None = None,
    ) -> ForwardResult:
        """``album``: the later parts ``message`` carries, recorded in the same step."""
        ...


class SessionForwarder:
    """Runs the forwarding script; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        identity: str,
        *,
        api_url: str,
        instructions: str,
        allowed_commands: list[str],
        start_timeout_s: float,
        typing_cap_ms: int,
        contract: POContract = SEED,
        reactions: bool = False,
        steer: bool = False,
    ) -> None:
        self._contract = contract
        self._reactions = reactions
        self._steer = steer
        self._identity = identity
        self._typing_cap_ms = typing_cap_ms
        self._api_url = api_url
        self._instructions = instructions
        self._allowed_commands = allowed_commands
        self._start_timeout_ms = int(start_timeout_s * 1000)
        self._script = register(redis, __file__, "forward.lua")

    async def forward(
        self,
        partition: int,
        entry_id: str,
        message: IncomingMessage,
        album: AlbumTaken | None = None,
    ) -> ForwardResult:
        user_id = message.user_id
        # The ingress's id follows the message through every log; entries
        # from before it existed fall back to their stream id (stable too).
        request_id = message.request_id or entry_id
        po_input = self._contract.input_data(message, request_id)
        command = self.create_command(user_id, message.telegram_id)
        reply = await self._script(
            keys=[
                keyspace.lease(partition),
                keyspace.forwarded(partition),
                keys.session(user_id),
                keys.spawn_guard(user_id),
                keys.WORKER_COMMANDS,
                self._contract.input_stream(user_id),
                keys.user_chat(user_id),
                keyspace.active(partition),
                keyspace.reply_cursor(partition),
                self._contract.output_stream(user_id),
                keyspace.start_watch(partition),
                keyspace.typing(partition),
                keys.incoming(partition),
                keys.pending(user_id),
                keys.acks(user_id),
                keys.cancelled(user_id),
                keyspace.chats(partition),
                keyspace.albums(user_id),
            ],
            args=[
                self._identity,
                entry_id,
                user_id,
                keys.po_worker_id(user_id),
                keys.SESSION_TTL_S,
                message.chat_id,
                po_input,
                encode(command),
                command.request_id,
                self._start_timeout_ms,
                _STATUS_PREFIX,
                self._typing_cap_ms,
                request_id,
                # A press's message is the bot's own question: no 👀 on it.
                message.message_id if self._reactions and message.kind == "message" else "",
                self._steer_data(message, request_id),
                album.group if album else "",
                album.record if album else "",
            ],
        )
        result = _result(reply)
        if isinstance(result, Forwarded):
            return replace(result, request_id=request_id)
        return result

    def _steer_data(self, message: IncomingMessage, request_id: str) -> bytes:
        if not self._steer or message.kind != "message":
            return b""  # a button press is an answer, never guidance mid-run: it queues
        return self._contract.steer_data(message, request_id) or b""

    def create_command(self, user_id: int, telegram_id: int) -> CreateWorkerCommand:
        """Exactly the command of CONTRACTS.md (``worker_type``, ``agent_type``...)."""
        return CreateWorkerCommand(
            request_id=new_id(),
            config=WorkerConfig(
                name=keys.po_worker_id(user_id),
                instructions=self._instructions,
                allowed_commands=list(self._allowed_commands),
                env_vars={"USER_ID": str(user_id), "API_URL": self._api_url},
            ),
            context={"role": "product_owner", "user_telegram_id": str(telegram_id)},
        )


def _result(reply: list[bytes]) -> ForwardResult:
    outcome = text(reply[0])
    if outcome == "lost":
        return Lost()
    if outcome == "duplicate":
        return Duplicate(text(reply[1]), text(reply[2]), text(reply[3]))
    _, worker_id, spawned, status, cursor, watch, input_id = reply
    return Forwarded(
        worker_id=text(worker_id),
        spawned=int(spawned) == 1,
        status=text(status),
        reply_cursor=text(cursor),
        watch=text(watch),
        input_id=text(input_id),
    )
