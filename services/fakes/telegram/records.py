"""Records: what the fake saw (calls, webhook pushes) and what each chat's user sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from .wire import JSONDict


@dataclass
class Call:
    """One Bot API call as the fake saw and answered it.

    ``status`` is None for a dropped connection; ``body`` is the JSON answer
    (a dict), the raw text for non-JSON answers, or None when dropped.
    """

    seq: int
    method: str
    params: JSONDict
    started: float
    finished: float = 0.0
    status: int | None = None
    body: Any = None
    chat_id: int | None = None
    source: str = "http"

    @property
    def ok(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("ok") is True

    @property
    def result(self) -> Any:
        return self.body.get("result") if isinstance(self.body, dict) else None

    @property
    def description(self) -> str | None:
        return self.body.get("description") if isinstance(self.body, dict) else None

    @property
    def retry_after(self) -> int | None:
        if not isinstance(self.body, dict):
            return None
        value = (self.body.get("parameters") or {}).get("retry_after")
        return int(value) if value is not None else None


@dataclass
class Draft:
    """One ``sendMessageDraft`` as the user's client shows it.

    ``can_stop``: the user sees a stop button (control API: stop it);
    ``stopped``: the user pressed it (a ``stopped_message_generation`` update went out).
    """

    draft_id: int
    text: str
    entities: list[JSONDict]
    time: float
    can_stop: bool = False
    keep_on_stop: bool = False
    stopped: bool = False


@dataclass
class Reaction:
    """One successful ``setMessageReaction``: the bot's reaction on a message after it."""

    message_id: int
    reaction: list[JSONDict]
    is_big: bool
    time: float


@dataclass
class CallbackPress:
    """A user's press of an inline button, and the bot's answer once it comes."""

    query_id: str
    message_id: int
    data: str
    user_id: int
    answer: JSONDict | None = None


@dataclass
class ChatAction:
    action: str
    time: float


@dataclass
class ChatState:
    """One chat as its user sees it."""

    id: int
    info: JSONDict
    blocked: bool = False
    messages: dict[int, JSONDict] = field(default_factory=dict)
    deleted: list[JSONDict] = field(default_factory=list)
    edits: list[JSONDict] = field(default_factory=list)
    drafts: dict[int, Draft] = field(default_factory=dict)
    draft_history: list[Draft] = field(default_factory=list)
    actions: list[ChatAction] = field(default_factory=list)
    keyboard: JSONDict | None = None
    """The reply keyboard the user's client shows: the last ``ReplyKeyboardMarkup`` the bot
    sent here, until a ``ReplyKeyboardRemove`` (a reply keyboard is not part of the message)."""
    reactions: dict[int, list[JSONDict]] = field(default_factory=dict)
    """The bot's current reaction per message id (absent: none)."""
    reaction_history: list[Reaction] = field(default_factory=list)
    reactions_enabled: bool = True
    """False: the chat's admins turned reactions off; every reaction is refused."""
    presses: list[CallbackPress] = field(default_factory=list)
    not_editable: set[int] = field(default_factory=set)
    """Bot messages sent with a reply keyboard, a removal or a force reply: Telegram edits
    only messages without ``reply_markup`` or with an inline keyboard."""
    last_message_id: int = 0

    @property
    def type(self) -> str:
        return str(self.info["type"])

    @property
    def is_private(self) -> bool:
        return self.id > 0

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id

    @property
    def sent(self) -> list[JSONDict]:
        """Messages the bot sent, edits applied, in order."""
        return [m for m in self.messages.values() if m.get("from", {}).get("is_bot")]

    @property
    def texts(self) -> list[str]:
        return [str(m.get("text", "")) for m in self.sent]

    @property
    def transcript(self) -> list[JSONDict]:
        """Every message still in the chat, the user's and the bot's."""
        return list(self.messages.values())

    def to_json(self) -> JSONDict:
        return {
            "chat": self.info,
            "blocked": self.blocked,
            "reactions_enabled": self.reactions_enabled,
            "messages": [self._shown(m) for m in self.transcript],
            "drafts": [msgspec.to_builtins(d) for d in self.drafts.values()],
            "actions": [msgspec.to_builtins(a) for a in self.actions],
            "keyboard": self.keyboard,
            "callback_queries": [msgspec.to_builtins(p) for p in self.presses],
        }

    def _shown(self, message: JSONDict) -> JSONDict:
        """A message as the chat view shows it: with the bot's reaction, if any."""
        reaction = self.reactions.get(message["message_id"])
        return {**message, "bot_reaction": reaction} if reaction else message


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class WebhookDelivery:
    """One POST of an update to the webhook, with what came back."""

    update_id: int
    url: str
    time: float
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300
