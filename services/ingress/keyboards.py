"""The bot's buttons: the quick-action reply keyboard, and the inline buttons under lists.

The reply keyboard (:func:`quick_keyboard`) holds the quick actions,
labelled from ``texts.buttons``: four for admins, three for everyone else
(``servers`` is the admins'). Pressing one sends its label as an ordinary
message; the ``buttons`` router knows it by the exact text and runs the
command it stands for, so a press costs the PO nothing. Every label is
known whoever sends it: a user who types ``🖥 Серверы`` is answered as for
``/servers``.

Inline buttons carry callback data, which the user's client sends back as
it was given, or as anyone forged it. So it is small (Telegram allows 64
bytes), versioned and validated, and never trusted to grant anything:

- :class:`ListPage` (``pg1:<kind>:<page>``): turn a list's page;
- :class:`ProjectCard` (``pr1:<project id>``): open one project;
- :class:`StartOver` (``nw1:y``/``nw1:n``): the answer to ``/new``'s question.

The digit in the prefix is the format's version: a change of meaning gets a
new prefix, so buttons sent by an older ingress no longer match and get the
polite "this button has expired" answer instead of doing something else.
Parsing is aiogram's ``CallbackData`` with pydantic validation (a kind not in
:class:`ListKind`, a negative or huge page, an id that is not a plain
token: no match). A valid one is still only a wish: the handler fetches
the list or project again with the *presser's* ``X-Telegram-ID``, so a
forged id can show nothing its presser could not see anyway.

Markup goes to the sender as JSON (``shared.sending.pieces.ReplyMarkup``), built
with aiogram's types for their validation, then dumped.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Annotated, Final

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from pydantic import Field, ValidationError

from shared.log import get_logger
from shared.schemas import Project
from shared.sending.pieces import ReplyMarkup
from shared.texts import Texts

log = get_logger(__name__)

CALLBACK_VERSION: Final = 1
QUICK_ACTIONS: Final = ("projects", "servers", "tasks", "help")
"""The reply keyboard's buttons, in order; each is also a command (``/projects``...)."""
ADMIN_ACTIONS: Final = frozenset({"servers"})
"""Quick actions on the admins' keyboard only (the API answers them 403 to others)."""
BUTTONS_PER_ROW: Final = 2
MAX_PAGE: Final = 9_999
PROJECT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,48}$"
"""Project ids a button can carry: UUIDs and numbers, with room to spare in 64 bytes."""
BUTTON_NAME_CHARS: Final = 28
"""A project's name on its button, cut to keep two buttons a row readable."""
PROJECT_BUTTONS_PER_ROW: Final = 2

REMOVE_KEYBOARD: Final[ReplyMarkup] = ReplyKeyboardRemove(remove_keyboard=True).model_dump(
    exclude_none=True
)
"""Sent with a rejection: a user removed from the platform loses the keyboard too."""


class ListKind(enum.StrEnum):
    """A list a page button can turn, one letter each in callback data."""

    PROJECTS = "p"
    SERVERS = "s"
    TASKS = "t"


class ListPage(CallbackData, prefix=f"pg{CALLBACK_VERSION}"):
    """``pg1:p:3``: show page 3 (0-based) of the presser's projects."""

    kind: ListKind
    page: Annotated[int, Field(ge=0, le=MAX_PAGE)]


class ProjectCard(CallbackData, prefix=f"pr{CALLBACK_VERSION}"):
    """``pr1:<id>``: show the presser's project with this id, if they can see it."""

    id: Annotated[str, Field(pattern=PROJECT_ID_PATTERN)]


class StartOverAnswer(enum.StrEnum):
    YES = "y"
    NO = "n"


class StartOver(CallbackData, prefix=f"nw{CALLBACK_VERSION}"):
    """``nw1:y`` / ``nw1:n``: the answer to ``/new``'s "start over?" (the message is the key)."""

    answer: StartOverAnswer


def start_over_markup(texts: Texts) -> ReplyMarkup:
    """ "Да, начать заново" / "Отмена" under ``/new``'s question."""
    buttons = [
        _button(texts.new_yes, StartOver(answer=StartOverAnswer.YES)),
        _button(texts.new_no, StartOver(answer=StartOverAnswer.NO)),
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons]).model_dump(exclude_none=True)


def quick_keyboard(texts: Texts, *, admin: bool) -> ReplyMarkup:
    """The persistent reply keyboard: the quick actions ``admin`` may use, two a row."""
    labels = [
        texts.buttons[action] for action in QUICK_ACTIONS if admin or action not in ADMIN_ACTIONS
    ]
    step = BUTTONS_PER_ROW
    rows = [
        [KeyboardButton(text=label) for label in labels[i : i + step]]
        for i in range(0, len(labels), step)
    ]
    markup = ReplyKeyboardMarkup(
        keyboard=rows,
        is_persistent=True,
        resize_keyboard=True,
        input_field_placeholder=texts.keyboard_placeholder,
    )
    return markup.model_dump(exclude_none=True)


def button_actions(texts: Texts) -> dict[str, str]:
    """Label -> quick action, for recognising a press by its exact text."""
    actions = {texts.buttons[action]: action for action in QUICK_ACTIONS}
    if len(actions) != len(QUICK_ACTIONS) or any(label.startswith("/") for label in actions):
        raise ValueError("quick-action labels must be distinct and must not start with '/'")
    return actions


def every_button_action(languages: Iterable[Texts]) -> dict[str, str]:
    """Label -> quick action in every language: a press is recognised whatever the
    presser's language (their keyboard may predate a change of it)."""
    actions: dict[str, str] = {}
    for texts in languages:
        for label, action in button_actions(texts).items():
            if actions.setdefault(label, action) != action:
                raise ValueError(f"quick-action label {label!r} stands for two actions")
    return actions


def list_markup(
    kind: ListKind,
    page: int,
    pages: int,
    texts: Texts,
    rows: Sequence[Sequence[InlineKeyboardButton]] = (),
) -> ReplyMarkup | None:
    """``rows`` (per-item buttons), then ◀ / ▶ when there is a page that way; None if empty."""
    nav = []
    if page > 0:
        nav.append(_button(texts.page_back, ListPage(kind=kind, page=page - 1)))
    if page + 1 < pages:
        nav.append(_button(texts.page_forward, ListPage(kind=kind, page=page + 1)))
    keyboard = [list(row) for row in rows if row]
    if nav:
        keyboard.append(nav)
    if not keyboard:
        return None
    return InlineKeyboardMarkup(inline_keyboard=keyboard).model_dump(exclude_none=True)


def project_rows(projects: Sequence[Project], texts: Texts) -> list[list[InlineKeyboardButton]]:
    """One "open" button per project, two a row; a project whose id cannot be carried has none."""
    buttons = []
    for project in projects:
        try:
            data = ProjectCard(id=str(project.id))
        except ValidationError:
            log.info("project_button_skipped", reason="id_not_a_token")
            continue
        buttons.append(_button(texts.project_button.format(name=_short(project.name)), data))
    step = PROJECT_BUTTONS_PER_ROW
    return [buttons[i : i + step] for i in range(0, len(buttons), step)]


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _short(name: str) -> str:
    # A button shows plain text (no parse mode): nothing to escape, only to cut.
    name = " ".join(name.split()) or "—"
    return name if len(name) <= BUTTON_NAME_CHARS else name[: BUTTON_NAME_CHARS - 1] + "…"
