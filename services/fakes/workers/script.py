"""How one user's fake worker starts and how its PO replies: a test's script."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared.schemas import POWorkerInput

from .wire import WrapperOutput

Outcome = Literal["RUNNING", "FAILED", "STARTING"]
TextField = Literal["text", "content", "response", "result"]
ReplyFunction = Callable[[POWorkerInput], str]


def echo(message: POWorkerInput) -> str:
    """The default PO reply."""
    return f"echo: {message.text}"


@dataclass
class WorkerScript:
    """How one user's worker starts and how its PO replies."""

    outcome: Outcome = "RUNNING"
    """Where the start ends; ``STARTING`` means it never gets further (and no response is sent)."""
    start_delay: float = 0.0
    """Seconds between ``STARTING`` and the outcome."""
    plain_string_status: bool = False
    """Write ``worker:status:{id}`` with SET instead of a hash, as an old worker-manager did."""
    error: str = "container exited with code 1"
    """The response's ``error`` when the outcome is ``FAILED``."""
    reply: ReplyFunction = echo
    chunks: int = 1
    """Entries per reply: ``chunks - 1`` growing ``is_final: false`` snapshots, then the final."""
    reply_delay: float = 0.0
    """Seconds to wait before each output entry (each snapshot and the final); in
    ``worker-streams``, which has no snapshots, the one entry waits ``chunks`` times this."""
    think_s: float = 0.0
    """Seconds the PO thinks before its first output entry, on top of ``reply_delay``."""
    follow_up: ReplyFunction | None = None
    """A message the PO writes on its own, ``follow_up_s`` after its reply to the user's
    last message (a newer message starts the wait again); None: it never does."""
    follow_up_s: float = 60.0
    honours_cancel: bool = True
    """A ``cancel`` entry stops the reply it names: no more snapshots, no final. False: a PO
    that knows nothing of the extension, and answers as if nothing happened."""
    text_field: TextField = "text"
    """The JSON key the reply text goes under; deployed wrappers use the other three."""
    buttons: Any = None
    """Rows of ``{"text", "data"}`` (or anything, to test a bad keyboard) under the final reply
    to each chat message (CONTRACTS.md, "Bot extensions"); not under replies to presses.
    None: no ``buttons`` key."""
    wrapper_output: WrapperOutput = "content"
    """``worker-streams``: the shape of the wrapper's output entry (``failed``: the agent
    fails, with ``error``, and a ``failed`` lifecycle event follows)."""
