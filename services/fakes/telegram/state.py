"""What the fake Telegram knows, and the signal that it changed.

Every change of state calls :meth:`FakeState.notify`; every wait (long
polls, webhook pushes, a test's :meth:`FakeState.wait_for`) re-checks its
condition on the next change instead of sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.stopping import pause

from .files import FileStore
from .flood import Clock
from .records import (
    Call,
    CallbackPress,
    ChatState,
    Reaction,
    WebhookConfig,
    WebhookDelivery,
)
from .wire import JSONDict

T = TypeVar("T")


@dataclass
class Poll:
    """The ``getUpdates`` long poll waiting now; a newer one supersedes it (409)."""

    superseded: bool = False


class FakeState:
    """The records, chats, users and update queue; waits on their changes.

    ``clock`` (monotonic in production, :class:`ManualClock` in flood tests)
    times the flood limits and the records; waits for events use the event loop.
    """

    def __init__(
        self, *, token: str, bot_name: str, bot_username: str, clock: Clock, first_update_id: int
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("token must look like '<digits>:<secret>'")
        self.token = token
        self.clock = clock
        self.bot_user: JSONDict = {
            "id": int(bot_id), "is_bot": True, "first_name": bot_name, "username": bot_username,
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False,
        }  # fmt: skip

        self.calls: list[Call] = []
        self.chats: dict[int, ChatState] = {}
        self.users: dict[int, JSONDict] = {}
        self.pending_updates: list[JSONDict] = []
        self.filtered_updates: list[JSONDict] = []
        self.allowed_updates: frozenset[str] | None = None
        self.webhook: WebhookConfig | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.callback_answers: list[JSONDict] = []
        self.open_callback_queries: dict[str, CallbackPress] = {}
        """Presses not answered yet, by callback query id."""
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        """The bot's command menus by (scope as JSON, language code)."""
        self.commands_set: Counter[tuple[str, str]] = Counter()
        """Successful ``setMyCommands`` calls per menu (what a lockout is counted on)."""
        self.files = FileStore()
        """What users sent (``inject_media``): served by ``getFile`` and the download route."""
        self.version = 0

        self._update_ids = itertools.count(first_update_id)
        self._call_seq = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._poll: Poll | None = None
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()

    # ---- events

    def notify(self) -> None:
        """Wake every waiter (long polls, ``wait_for``); call after any change of state.

        A fresh Event per change acts as a broadcast condition that can be
        signalled from synchronous code (the ``inject_*`` API), which an
        ``asyncio.Condition`` cannot without holding its lock.
        """
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def stopping(self) -> bool:
        """True once :meth:`FakeTelegram.stop` has begun: every wait ends now."""
        return self._stopping.is_set()

    async def wait_change(self, timeout: float | None) -> None:
        """Wait for the next change of state, at most ``timeout`` seconds."""
        changed = self._changed
        await pause(changed, timeout)

    async def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the fake stops."""
        await pause(self._stopping, seconds)

    async def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 5.0, *, what: str = ""
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{c.method}->{c.status}" for c in self.calls[-5:])
                raise TimeoutError(
                    f"FakeTelegram: {what or predicate!r} not true after {timeout}s "
                    f"(last calls: {recent or 'none'})"
                )
            await pause(changed, remaining)

    async def wait_for_messages(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Wait until the bot has ``count`` messages in ``chat_id``; return them all."""
        chat = self.chat(chat_id)
        return await self.wait_for(
            lambda: chat.sent if len(chat.sent) >= count else None,
            timeout,
            what=f"{count} bot message(s) in chat {chat_id}",
        )

    async def wait_for_reaction(
        self, chat_id: int, message_id: int, emoji: str | None, timeout: float = 5.0
    ) -> list[Reaction]:
        """Wait until the bot's reaction on the message is ``emoji`` (None: no reaction).

        Returns the message's reaction history: every successful ``setMessageReaction``.
        """
        chat = self.chat(chat_id)
        wanted = [emoji] if emoji else []

        def reached() -> tuple[list[Reaction]] | None:
            if [r.get("emoji") for r in chat.reactions.get(message_id, [])] != wanted:
                return None
            return ([r for r in chat.reaction_history if r.message_id == message_id],)

        what = f"reaction {emoji!r} on message {message_id} in chat {chat_id}"
        (history,) = await self.wait_for(reached, timeout, what=what)
        return history

    async def wait_for_call(
        self,
        method: str,
        *,
        count: int = 1,
        where: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
    ) -> Call:
        """Wait for the ``count``-th finished call of ``method`` (matching ``where``)."""

        def found() -> Call | None:
            matching = [c for c in self.calls_to(method) if where is None or where(c)]
            return matching[count - 1] if len(matching) >= count else None

        return await self.wait_for(found, timeout, what=f"call #{count} of {method}")

    async def wait_for_poller(self, timeout: float = 5.0) -> None:
        """Wait until a ``getUpdates`` long poll is waiting."""
        await self.wait_for(lambda: self._poll is not None, timeout, what="a getUpdates poller")

    async def wait_until_delivered(self, timeout: float = 5.0) -> None:
        """Wait until every queued update has been confirmed (offset or webhook 2xx)."""
        await self.wait_for(lambda: not self.pending_updates, timeout, what="no pending updates")

    # ---- records

    def begin_call(self, method: str, params: JSONDict, source: str) -> Call:
        """A call's record, numbered and timed; it joins :attr:`calls` when finished."""
        return Call(next(self._call_seq), method, params, self.clock(), source=source)

    def finish_call(self, call: Call, status: int | None, body: Any) -> None:
        call.finished, call.status, call.body = self.clock(), status, body
        self.calls.append(call)
        self.notify()

    def calls_to(self, method: str) -> list[Call]:
        name = method.lower()
        return [c for c in self.calls if c.method.lower() == name]

    @property
    def throttled(self) -> list[Call]:
        """Every call answered 429, in order."""
        return [c for c in self.calls if c.status == 429]

    def chat(self, chat_id: int) -> ChatState:
        """The chat's state, created on first use (every chat id "exists")."""
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = ChatState(chat_id, self._chat_info(chat_id))
            self.chats[chat_id] = chat
        return chat

    def user(self, user_id: int) -> JSONDict:
        """The user with this id, made up on first use; edit the dict to rename."""
        return self.users.setdefault(
            user_id,
            {
                "id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                "username": f"user{user_id}", "language_code": "ru",
            },
        )  # fmt: skip

    def _chat_info(self, chat_id: int) -> JSONDict:
        if chat_id > 0:
            user = self.user(chat_id)
            return {"id": chat_id, "type": "private", "first_name": user["first_name"],
                    "username": user["username"]}  # fmt: skip
        kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
        return {"id": chat_id, "type": kind, "title": f"Group {-chat_id}"}
