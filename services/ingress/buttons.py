"""Presses of the quick-action keyboard: each runs the command it stands for.

A reply-keyboard button sends its label as an ordinary text message; here a
message whose text is *exactly* a label (``texts.buttons``) is handled by
the same handler as the command (``📁 Проекты`` is ``/projects``; the labels
of every language are recognised), so it
makes the same API call, gives the same answer and never reaches the PO.
Anything else, a label with a word added or a sentence that mentions
projects, is a chat message (the chat handlers' filter leaves exact labels
out, so the routers never compete for a message).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Router

from services.ingress import commands
from services.ingress.filters import Button, ButtonPress
from services.ingress.keyboards import every_button_action
from shared.texts import Texts


def router(languages: Sequence[Texts]) -> Router:
    """A fresh router for the labels of every language (a router joins one dispatcher only)."""
    buttons = Router(name="buttons")
    buttons.message.filter(ButtonPress(every_button_action(languages)))
    buttons.message.register(commands.show_projects, Button("projects"))
    buttons.message.register(commands.show_servers, Button("servers"))
    buttons.message.register(commands.show_tasks, Button("tasks"))
    buttons.message.register(commands.show_help, Button("help"))
    return buttons
