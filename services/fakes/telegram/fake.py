"""The fake Bot API server: its lifecycle, its configuration, and what the bot does.

The HTTP side lives in :mod:`.server` (the Bot API), :mod:`.control` (the
``/_fake`` control API) and :mod:`.webhook` (pushes to the bot); this class
is the state they act on and the operations tests call.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Sequence

import aiohttp
from aiohttp import web

from services.fakes.lifecycle import StartStop

from .control import CONTROL_PREFIX
from .entities import FormattedText, utf16_len
from .errors import ApiError, bad_request, too_many_requests
from .failures import Failure, ScriptedFailures
from .flood import Clock, FloodControl, FloodLimits
from .formatting import MAX_TEXT_UTF16, format_message_text
from .methods import METHODS, Handler, MethodSpec
from .params import Params
from .server import make_app
from .updates import FakeUpdates
from .webhook import deliver_webhooks
from .wire import JSONDict

DEFAULT_TOKEN = "123456:TEST-token_abc"  # noqa: S105 (a fake bot's token)


class FakeTelegram(FakeUpdates, StartStop):
    """The fake Bot API server: ``async with FakeTelegram() as fake: ...``.

    State a test reads: :attr:`calls`, :attr:`chats` (see :class:`ChatState`),
    :attr:`pending_updates`, :attr:`webhook`, :attr:`webhook_deliveries`,
    :attr:`callback_answers`, :attr:`commands`, :attr:`commands_set`, :attr:`throttled`.
    ``clock`` (monotonic by default, :class:`ManualClock` in flood tests) times
    the flood limits and the records; waits for events use the event loop.
    ``routes`` are served beside the Bot API and the control API (the
    sandbox's web page), before the catch-all 404.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_name: str = "Fake Bot",
        bot_username: str = "fake_test_bot",
        flood_limits: FloodLimits | None = None,
        clock: Clock = time.monotonic,
        strict_html: bool = True,
        first_update_id: int = 100_000_001,
        webhook_retry_delay: float = 0.05,
        webhook_retry_max_delay: float = 2.0,
        webhook_timeout: float = 10.0,
        routes: Sequence[web.AbstractRouteDef] = (),
    ) -> None:
        super().__init__(
            token=token,
            bot_name=bot_name,
            bot_username=bot_username,
            clock=clock,
            first_update_id=first_update_id,
        )
        self.host = host
        self.port = port
        self.strict_html = strict_html
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_retry_max_delay = webhook_retry_max_delay
        self.webhook_timeout = webhook_timeout
        self.flood = FloodControl(flood_limits)
        self.methods: dict[str, MethodSpec] = dict(METHODS)
        self.failures = ScriptedFailures()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._pusher: asyncio.Task[None] | None = None
        self.app = make_app(self, routes)

    # ---- lifecycle

    async def start(self) -> None:
        self._stopping.clear()
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._http = aiohttp.ClientSession()
        self._pusher = asyncio.create_task(
            deliver_webhooks(self, self._http), name="fake-telegram-webhook"
        )

    async def stop(self) -> None:
        """Stop serving: long polls, slow answers and webhook pushes end now."""
        self._stopping.set()
        self.notify()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """Base URL for ``TelegramAPIServer.from_base`` / ``TELEGRAM_API_URL``."""
        if self._runner is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def control_url(self) -> str:
        return self.url + CONTROL_PREFIX

    # ---- configuration

    def set_flood_limits(self, limits: FloodLimits) -> None:
        self.flood.set_limits(limits)

    def lift_flood_limits(self) -> None:
        self.flood.set_limits(FloodLimits.off())

    def fail_next(
        self, method: str, failure: Failure, *, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (for ``chat_id``) with ``failure``."""
        self.failures.add(method, failure, times, chat_id)

    def clear_failures(self) -> None:
        self.failures.clear()

    @property
    def failures_left(self) -> int:
        """Scripted failures not yet used up (a call that takes one is under way or done)."""
        return self.failures.left

    def add_method(self, name: str, handler: Handler) -> None:
        """Serve one more method on this instance only (see :func:`bot_method`)."""
        self.methods[name.lower()] = MethodSpec(name, handler)

    # ---- building blocks for method handlers

    def format_text(self, params: Params, *, allow_empty: bool = False) -> FormattedText:
        """``text`` + ``parse_mode``/``entities`` parsed, checked for 1-4096 UTF-16 units."""
        formatted = format_message_text(
            params.string("text") or "",
            params.string("parse_mode"),
            params.json("entities"),
            strict_html=self.strict_html,
        )
        if not formatted.text and not allow_empty:
            raise bad_request("message text is empty")
        if utf16_len(formatted.text) > MAX_TEXT_UTF16:
            raise bad_request("message is too long")
        return formatted

    def check_not_blocked(self, chat_id: int) -> None:
        if self.chat(chat_id).blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def admit_send(self, chat_id: int) -> None:
        """403 if blocked, 429 if over a flood limit; otherwise spend one send."""
        self.check_not_blocked(chat_id)
        retry_after = self.flood.admit(chat_id, self.clock())
        if retry_after is not None:
            raise too_many_requests(retry_after)

    def post_bot_message(
        self,
        chat_id: int,
        formatted: FormattedText,
        *,
        reply_markup: JSONDict | None = None,
        reply_to: JSONDict | None = None,
    ) -> JSONDict:
        """Store a message from the bot and return the Message object Telegram returns."""
        chat = self.chat(chat_id)
        message: JSONDict = {
            "message_id": chat.next_message_id(),
            "from": self.bot_user,
            "chat": chat.info,
            "date": int(time.time()),
            "text": formatted.text,
        }
        if formatted.entities:
            message["entities"] = formatted.entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if reply_markup is not None and "inline_keyboard" in reply_markup:
            message["reply_markup"] = reply_markup
        elif reply_markup is not None:
            chat.not_editable.add(message["message_id"])
            if "keyboard" in reply_markup:
                chat.keyboard = copy.deepcopy(reply_markup)
            elif reply_markup.get("remove_keyboard"):
                chat.keyboard = None
        chat.messages[message["message_id"]] = copy.deepcopy(message)
        chat.drafts.clear()  # a sent message replaces the drafts on screen
        self.notify()
        return message

    def edit_bot_message(
        self,
        chat_id: int,
        message_id: int,
        formatted: FormattedText,
        *,
        reply_markup: JSONDict | None,
    ) -> JSONDict:
        chat = self.chat(chat_id)
        stored = chat.messages[message_id]
        chat.edits.append(copy.deepcopy(stored))
        stored.update(text=formatted.text, edit_date=int(time.time()))
        stored.pop("entities", None)
        stored.pop("reply_markup", None)
        if formatted.entities:
            stored["entities"] = formatted.entities
        if reply_markup is not None and "inline_keyboard" in reply_markup:
            stored["reply_markup"] = reply_markup
        self.notify()
        return copy.deepcopy(stored)

    def edit_bot_markup(
        self, chat_id: int, message_id: int, reply_markup: JSONDict | None
    ) -> JSONDict:
        """Replace (None: remove) the inline keyboard of a bot message; the text stays."""
        chat = self.chat(chat_id)
        stored = chat.messages[message_id]
        chat.edits.append(copy.deepcopy(stored))
        stored.update(edit_date=int(time.time()))
        stored.pop("reply_markup", None)
        if reply_markup is not None:
            stored["reply_markup"] = reply_markup
        self.notify()
        return copy.deepcopy(stored)
