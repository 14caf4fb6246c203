"""When a known user's chat gets the quick-action keyboard.

Telegram keeps a reply keyboard on the user's screen once it was sent with
a message (``is_persistent``), but a new device, a cleared chat or a
keyboard the user closed lose it, and only a message from the bot brings it
back. So it is sent:

- with the answer to ``/start`` and ``/help``, always (:meth:`show`);
- once per *keyboard session* otherwise (:meth:`offer`, for chat messages).

A keyboard session of a chat starts whenever the ingress shows that chat the
keyboard and lasts ``SESSION_S`` (24 h, as long as a PO session). It lives in
Redis, ``bot:keyboard:{chat_id}`` with that TTL, so it holds across
restarts and across webhook replicas. The first chat message when no
session is running gets a one-line note with the keyboard (the message
itself goes to the PO as always); later ones get nothing extra. Quick
commands and button presses do not start one: a press means the keyboard
is already there, and their answers carry list buttons of their own.

The Redis work is done by the outbox, just before the note is sent (``SET
NX EX``, see ``outbox.Mark``), never in the handler: chat messages must not
wait for, or fail with, Redis. The note is an answer like any other: it is
stored with its update and sent once the batch is stored, through the
batch-bound outbox; so ``keyboards`` in the handler data is this object
bound to that outbox (:meth:`KeyboardSessions.bind`, per update), sharing
the process's cache. To keep a Redis call off most chat
messages, each process also remembers for ``LOCAL_S`` (10 minutes, in a
bounded in-process cache) which chats it has offered the keyboard to; so
a chat costs at most one ``SET NX`` per process per ten minutes, and a
new session is noticed at most ten minutes late.
"""

from __future__ import annotations

import time
from typing import Final

from services.ingress.directory import Clock, TtlCache
from services.ingress.keyboards import quick_keyboard
from services.ingress.outbox import Mark, Outbox
from shared import keys
from shared.sending.pieces import ReplyMarkup
from shared.texts import Texts

KEY_PREFIX: Final = "bot:keyboard:"
SESSION_S: Final = keys.SESSION_TTL_S
LOCAL_S: Final = 600.0
LOCAL_MAX_CHATS: Final = 10_000


def session_key(chat_id: int) -> str:
    """``bot:keyboard:{chat_id}``: exists while the chat's keyboard session runs."""
    return f"{KEY_PREFIX}{chat_id}"


class KeyboardSessions:
    """The process's keyboard sessions; handlers get it bound to their update's outbox."""

    __slots__ = ("_local_s", "_markups", "_offered", "_outbox", "_session_s", "_texts")

    def __init__(
        self,
        texts: Texts,
        *,
        clock: Clock = time.monotonic,
        session_s: int = SESSION_S,
        local_s: float = LOCAL_S,
        max_chats: int = LOCAL_MAX_CHATS,
    ) -> None:
        self._outbox: Outbox | None = None
        self._texts = texts
        self._session_s = session_s
        self._local_s = local_s
        self._offered: TtlCache[int, bool] = TtlCache(max_chats, clock)
        self._markups: dict[tuple[str, bool], ReplyMarkup] = {}

    def bind(self, outbox: Outbox, texts: Texts | None = None) -> KeyboardSessions:
        """These sessions, answering through ``outbox`` (one update's), in ``texts``' language
        (None: as they are)."""
        bound = object.__new__(KeyboardSessions)
        bound._outbox = outbox
        bound._texts = texts if texts is not None else self._texts
        bound._session_s = self._session_s
        bound._local_s = self._local_s
        bound._offered = self._offered
        bound._markups = self._markups
        return bound

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            raise RuntimeError("KeyboardSessions used without an update's outbox (bind it)")
        return self._outbox

    def markup(self, *, admin: bool) -> ReplyMarkup:
        """The keyboard for an admin, or for anyone else (no ``servers``), labelled in this
        binding's language (built once per language)."""
        key = (self._texts.language, admin)
        markup = self._markups.get(key)
        if markup is None:
            markup = self._markups[key] = quick_keyboard(self._texts, admin=admin)
        return markup

    def show(self, chat_id: int, text: str, *, admin: bool) -> None:
        """Answer ``text`` (plain) with the keyboard, and start a new session."""
        self._offered.put(chat_id, True, self._local_s)
        mark = Mark(session_key(chat_id), self._session_s)
        self.outbox.say(chat_id, text, reply_markup=self.markup(admin=admin), mark=mark)

    def offer(self, chat_id: int, *, admin: bool) -> None:
        """A chat message arrived: send the keyboard if no session is running."""
        seen, _ = self._offered.get(chat_id)
        if seen:
            return
        self._offered.put(chat_id, True, self._local_s)
        mark = Mark(session_key(chat_id), self._session_s, only_if_new=True)
        markup = self.markup(admin=admin)
        self.outbox.say(chat_id, self._texts.keyboard_note, reply_markup=markup, mark=mark)
        self.outbox.if_discarded(lambda: self._offered.pop(chat_id))
