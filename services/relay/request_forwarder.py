"""``po-service`` forwarding: one chat message, one flat ``po:input`` entry, in one fenced step.

``forward_request.lua`` checks the lease and ``bot:fwd:{p}``, writes the
entry, records the request as pending for its user (the order of
``bot:po:queue:{u}``, its deadline in ``bot:po:req:{p}``), the "typing…"
record, and moves ``bot:fwd:{p}``: a crash leaves all of it or none. The
same :class:`~services.relay.sessions.ForwardResult` as the session
forwarder, so the incoming reader does not know which profile it serves.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from services.relay import keyspace
from services.relay.contracts import po_service
from services.relay.sessions import AlbumTaken, Duplicate, Forwarded, ForwardResult, Lost
from shared import keys
from shared.connections import text
from shared.schemas import IncomingMessage
from shared.scripts import register


class RequestForwarder:
    """Runs ``forward_request.lua``; see the module docstring."""

    def __init__(
        self,
        redis: aioredis.Redis,
        identity: str,
        *,
        reply_timeout_s: float,
        typing_cap_ms: int,
        reactions: bool = False,
    ) -> None:
        self._reactions = reactions
        self._identity = identity
        self._timeout_ms = int(reply_timeout_s * 1000)
        self._typing_cap_ms = typing_cap_ms
        self._script = register(redis, __file__, "forward_request.lua")

    async def forward(
        self,
        partition: int,
        entry_id: str,
        message: IncomingMessage,
        album: AlbumTaken | None = None,
    ) -> ForwardResult:
        user_id = message.user_id
        request_id = po_service.request_id_for(message, entry_id)
        fields = po_service.input_fields(message, request_id)
        reply = await self._script(
            keys=[
                keyspace.lease(partition),
                keyspace.forwarded(partition),
                po_service.INPUT_STREAM,
                keyspace.po_queue(user_id),
                keyspace.po_requests(partition),
                keyspace.po_users(partition),
                keyspace.typing(partition),
                keys.incoming(partition),
                keys.user_chat(user_id),
                keys.pending(user_id),
                keys.acks(user_id),
                keyspace.albums(user_id),
            ],
            args=[
                self._identity,
                entry_id,
                user_id,
                request_id,
                message.chat_id,
                self._timeout_ms,
                self._typing_cap_ms,
                keys.SESSION_TTL_S,
                message.message_id if self._reactions else "",
                album.group if album else "",
                album.record if album else "",
                *(item for pair in fields.items() for item in pair),
            ],
        )
        outcome = text(reply[0])
        if outcome == "lost":
            return Lost()
        # The "reply cursor" of this profile is the request: replies flow once it is known.
        if outcome == "duplicate":
            return Duplicate(text(reply[1]), request_id, "")
        return Forwarded("", False, "", request_id, "", text(reply[1]), request_id=request_id)
