"""The web chat page and its small JSON API, served by the fake Telegram beside the Bot API.

The page itself is static (``static/``). It talks to the fake Telegram's
control API, as a Telegram client would talk to Telegram: it writes as the
person picked (``POST /_fake/chats/{id}/messages``), presses inline buttons
(``.../callbacks``) and long-polls for changes (``GET /_fake/wait``). What
only the sandbox knows is under ``/_sandbox``:

GET  /_sandbox/people          who one can be on the page
GET  /_sandbox/status          the processes' states; ``ready`` once the bot answers
GET  /_sandbox/chats/{id}      the chat as its user sees it, with the fake's clock, the bot's
                               name, the user's language_code and the "/" menu their client
                               would show (``menu``)
POST /_sandbox/provisioning    {"outcome": "success"|"failed"}: publish a provisioning result
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, get_args

import msgspec
from aiohttp import web

from services.sandbox.provisioning import Outcome
from services.sandbox.world import Person
from shared.schemas import ProvisionerResult

STATIC = Path(__file__).with_name("static")


class Backend(Protocol):
    """What the page's API asks of the running sandbox."""

    @property
    def people(self) -> Sequence[Person]: ...

    def chat(self, telegram_id: int) -> dict[str, Any]: ...

    async def status(self) -> dict[str, Any]: ...

    async def publish(self, outcome: Outcome) -> ProvisionerResult: ...


def routes(backend: Backend) -> list[web.AbstractRouteDef]:
    async def index(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def people(_request: web.Request) -> web.StreamResponse:
        return web.json_response([asdict(person) for person in backend.people])

    async def status(_request: web.Request) -> web.StreamResponse:
        return web.json_response(await backend.status())

    async def chat(request: web.Request) -> web.StreamResponse:
        try:
            telegram_id = int(request.match_info["telegram_id"])
        except ValueError:
            raise web.HTTPBadRequest(text="chat id must be an integer") from None
        return web.json_response(backend.chat(telegram_id))

    async def provisioning(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            outcome = body["outcome"]
        except (ValueError, KeyError, TypeError):
            raise web.HTTPBadRequest(text='expected {"outcome": "success"|"failed"}') from None
        if outcome not in get_args(Outcome):
            raise web.HTTPBadRequest(text='outcome must be "success" or "failed"')
        result = await backend.publish(outcome)
        return web.json_response(msgspec.to_builtins(result))

    return [
        web.get("/", index),
        web.static("/static", STATIC),
        web.get("/_sandbox/people", people),
        web.get("/_sandbox/status", status),
        web.get("/_sandbox/chats/{telegram_id}", chat),
        web.post("/_sandbox/provisioning", provisioning),
    ]
