"""PO personas: scripts that make the fake PO behave so a person can watch the bot work.

The sandbox gives some of its people one (``wm.scripts[user_id] = personas.script(name)``);
tests pass shorter times. Everyone else keeps the default script's ``echo``.

- ``streaming``: thinks a few seconds ("typing…"), then writes its reply in growing
  snapshots (``is_final: false``) about every ``step_s``, then the final reply. In
  ``worker-streams``, which has no snapshots, it takes as long and writes the reply once.
- ``proactive``: echoes, then ``after_s`` after the user's last message writes a
  reminder of its own, which answers no input.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from shared.schemas import POWorkerInput

from .script import WorkerScript

Persona = Literal["streaming", "proactive"]
PERSONAS: Final[tuple[Persona, ...]] = get_args(Persona)

THINK_S: Final = 3.0
STEP_S: Final = 0.8
STEPS: Final = 6
FOLLOW_UP_S: Final = 60.0


def thinking_aloud(message: POWorkerInput) -> str:
    """A reply long enough for its snapshots to be seen growing."""
    return (
        f"Думаю над «{message.text}». Сначала разберу, что именно нужно. "
        "Потом посмотрю, что уже есть в проекте. "
        "Затем предложу план из нескольких шагов. "
        "Готово: план будет в следующем сообщении, если скажете «да»."
    )


def reminder(message: POWorkerInput) -> str:
    return reminder_text(message.text)


def reminder_text(text: str) -> str:
    """The ``proactive`` persona's reminder of the user's message ``text`` (every profile)."""
    return f"Напоминание: вы писали «{text}». Я помню и вернусь с результатом."


def streaming(
    *, think_s: float = THINK_S, step_s: float = STEP_S, steps: int = STEPS
) -> WorkerScript:
    return WorkerScript(reply=thinking_aloud, think_s=think_s, reply_delay=step_s, chunks=steps)


def proactive(*, after_s: float = FOLLOW_UP_S) -> WorkerScript:
    return WorkerScript(follow_up=reminder, follow_up_s=after_s)


def script(persona: Persona) -> WorkerScript:
    """The persona's script at the pace a person watches it."""
    return streaming() if persona == "streaming" else proactive()
