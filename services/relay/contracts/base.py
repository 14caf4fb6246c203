"""The seam between the relay and the PO side: one interface, one small module per profile.

A profile (``PO_CONTRACT``) names the PO's streams, writes the input entry,
reads an output entry into a :class:`POReply`, and says which lifecycle
events mean "the user's message was not answered". The relay's components
get one :class:`POContract` from ``app.py`` and never read the setting
themselves (``docs/ARCHITECTURE.md``, "PO contract profiles").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from services.relay.contracts.attachments import Attachments
from shared.po_buttons import OfferedButton
from shared.schemas import IncomingMessage
from shared.streams import Fields


@dataclass(frozen=True, slots=True)
class POReply:
    """An output entry as the relay delivers it, whatever the profile's wire shape."""

    text: str | None
    """What the user reads; None: no text (with no attachments either, the entry is
    handled silently)."""
    is_final: bool = True
    """False: a snapshot of a reply still being written (shown as a preview)."""
    request_id: str | None = None
    """The input it answers, when the PO says (links snapshots and logs)."""
    buttons: tuple[tuple[OfferedButton, ...], ...] = ()
    """Rows of buttons the PO offers under the reply (final replies only; ``()``: none)."""
    attachments: Attachments = ()
    """Files sent after the text, in the PO's order (final replies only; ``()``: none)."""

    @property
    def silent(self) -> bool:
        """Nothing to show: no text and no file."""
        return self.text is None and not self.attachments


class LifecycleContract(Protocol):
    """What the lifecycle watch needs of a profile (every profile has it)."""

    @property
    def lifecycle_stream(self) -> str | None: ...

    def failed_user(self, fields: Fields) -> int | None: ...


class ControlContract(Protocol):
    """What ``/stop`` and ``/new`` need of a profile (every profile has it)."""

    def input_stream(self, user_id: int) -> str: ...

    def cancel_data(self, message: IncomingMessage, cancels: str) -> bytes | None: ...

    def delete_command(self, user_id: int) -> bytes:
        """The ``worker:commands`` entry stopping the user's worker; empty: no worker."""
        ...


class POContract(Protocol):
    """What the relay needs to know about the PO side; ``MalformedEntry`` for bad entries."""

    @property
    def name(self) -> str:
        """The ``PO_CONTRACT`` value."""
        ...

    @property
    def lifecycle_stream(self) -> str | None:
        """A global stream of worker events to watch for failures; None: the profile has none."""
        ...

    def input_stream(self, user_id: int) -> str:
        """Where the user's messages go."""
        ...

    def output_stream(self, user_id: int) -> str:
        """Where the PO's replies to the user come from."""
        ...

    @property
    def output_pattern(self) -> str:
        """A glob matching every user's output stream (the wake-ups' keyspace subscription)."""
        ...

    def user_of_output(self, stream: str) -> int | None:
        """The user whose output stream ``stream`` is; None for any other key."""
        ...

    def input_data(self, message: IncomingMessage, request_id: str) -> bytes:
        """The ``data`` field (JSON) of the input entry for ``message`` (a chat message, or a
        press of a button the PO offered: ``kind == "button"``)."""
        ...

    def decode_output(self, fields: Fields) -> POReply:
        """One output entry, or ``MalformedEntry``."""
        ...

    def failed_user(self, fields: Fields) -> int | None:
        """The user whose PO failed, for a lifecycle entry saying so; else None."""
        ...

    def cancel_data(self, message: IncomingMessage, cancels: str) -> bytes | None:
        """The input entry telling the PO to stop request ``cancels``; None: the shape cannot."""
        ...

    def steer_data(self, message: IncomingMessage, request_id: str) -> bytes | None:
        """``input_data`` marked as guidance for the run under way; None: the shape cannot."""
        ...

    def delete_command(self, user_id: int) -> bytes:
        """The ``worker:commands`` entry (its ``data``) that stops the user's worker."""
        ...


class OutputStreams:
    """A profile's output stream names as a glob and back, from its ``output_stream``.

    Built from the one function that names the streams, so the glob, the
    parser and the Lua sweep's prefix and suffix cannot drift from it.
    """

    _PROBE = 918_273_645

    def __init__(self, output_stream: Callable[[int], str]) -> None:
        name = output_stream(self._PROBE)
        self.prefix, _, self.suffix = name.partition(str(self._PROBE))
        self.pattern = f"{self.prefix}*{self.suffix}"
        self._parse = re.compile(re.escape(self.prefix) + r"(\d+)" + re.escape(self.suffix))

    def user_of(self, stream: str) -> int | None:
        match = self._parse.fullmatch(stream)
        return int(match.group(1)) if match else None
