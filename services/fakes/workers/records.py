"""What the fake worker-manager records for tests, and what it keeps per worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from shared.attachments import Attachment
from shared.schemas import POWorkerInput


@dataclass(frozen=True)
class RejectedEntry:
    """An entry the fake could not use: it was recorded and skipped, never fatal."""

    stream: str
    entry_id: str
    fields: dict[str, str]
    reason: str


@dataclass(frozen=True)
class SentOutput:
    """One entry the fake wrote on ``worker:po:{user_id}:output``."""

    user_id: int
    entry_id: str
    request_id: str
    text: str
    is_final: bool


@dataclass(frozen=True)
class Pending:
    """An input a PO has read and not answered yet."""

    message: POWorkerInput
    entry_id: str
    before: str
    """The read cursor before this entry: where to rewind to read it again."""
    attachments: list[Attachment] = field(default_factory=list)
    """The files the message brought (CONTRACTS.md, "Bot extensions")."""
    unreadable: int = 0
    """``attachments`` entries the PO could not read."""


@dataclass(eq=False)
class Worker:
    """One user's worker: its status form, its read cursor, its start and its PO."""

    user_id: int
    worker_id: str
    plain_status: bool
    cursor: str = "0-0"
    rewind_to: str | None = None
    queue: asyncio.Queue[Pending] = field(default_factory=asyncio.Queue)
    lifecycle: asyncio.Task[None] | None = None
    po: asyncio.Task[None] | None = None
    answering: str = ""
    """The request id the PO is answering now ('' : none)."""
    cancelled: set[str] = field(default_factory=set)
    """Request ids a ``cancel`` entry named."""
    follow_up: asyncio.Task[None] | None = None
    """The PO's own message still to come (``WorkerScript.follow_up``)."""
