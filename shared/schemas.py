"""The schema: one msgspec ``Struct`` per message on every wire.

Stream entries shared with other services hold one field, ``data``, a UTF-8
JSON object (CONTRACTS.md). ``encode_entry``/``decode_entry`` are the only way
the bot writes and reads them. Unknown JSON keys are ignored on read; what we
send is exactly what the contracts list.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

import msgspec

from shared.attachments import Attachment
from shared.sending.pieces import Piece

DATA_FIELD = "data"


def utc_now_iso() -> str:
    """An ISO-8601 UTC timestamp, as the contracts write them."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


_UUID_CLEAR: Final = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_V4: Final = (0x8000 << 48) | (4 << 76)


def new_id() -> str:
    """A random (version 4) UUID as text, in the form ``str(uuid.uuid4())`` gives.

    From ``random`` rather than ``os.urandom``: request ids are labels, not
    secrets, and the ingress makes one per chat message, where the system
    call behind ``os.urandom`` was about 4 % of its time on our hosts
    (``bench/ingress.py``). ``random`` is seeded from the OS at start and
    again in a forked child, so processes do not repeat each other.
    """
    h = f"{(random.getrandbits(128) & _UUID_CLEAR) | _UUID_V4:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --- worker:commands -------------------------------------------------------


class WorkerConfig(msgspec.Struct, kw_only=True):
    name: str
    worker_type: str = "po"
    agent_type: str = "claude"
    instructions: str = ""
    allowed_commands: list[str] = msgspec.field(default_factory=lambda: ["*"])
    capabilities: list[str] = msgspec.field(default_factory=list)
    env_vars: dict[str, str] = msgspec.field(default_factory=dict)


class CreateWorkerCommand(msgspec.Struct, kw_only=True):
    config: WorkerConfig
    context: dict[str, str] = msgspec.field(default_factory=dict)
    command: str = "create"
    version: str = "1"
    request_id: str = msgspec.field(default_factory=new_id)
    correlation_id: str = msgspec.field(default_factory=new_id)
    timestamp: str = msgspec.field(default_factory=utc_now_iso)


class WorkerResponse(msgspec.Struct, kw_only=True):
    """The worker-manager's answer on ``worker:responses:po``."""

    request_id: str | None = None
    success: bool = False
    worker_id: str | None = None
    error: str | None = None


# --- worker:po:{user_id}:input / :output ------------------------------------


class POWorkerInput(msgspec.Struct, kw_only=True, omit_defaults=True):
    request_id: str
    user_id: int
    telegram_id: int
    chat_id: int
    text: str
    timestamp: str = msgspec.field(default_factory=utc_now_iso)
    type: str | None = None
    """Absent for a chat message; ``cancel`` for the user's ``/stop`` (CONTRACTS.md,
    "Bot extensions to the PO contract")."""
    cancels: str | None = None
    """A ``cancel``'s request id being stopped ('' : everything pending)."""
    steer: bool | None = None
    """``BUSY_POLICY=steer``: sent while the PO works on an earlier message, for a PO
    that can take guidance mid-run (with ``type: message``)."""
    reply_to: str | None = None
    """A ``button`` press: the request id of the reply whose button was pressed."""
    data: str | None = None
    """A ``button`` press: the button's data (``text`` is its label)."""
    attachments: list[Attachment] | None = None
    """A message's files (CONTRACTS.md, "Bot extensions"); ``text`` is then the caption."""


class DeleteWorkerCommand(msgspec.Struct, kw_only=True):
    """Stop and remove a worker (``worker:commands``; the user's confirmed ``/new``)."""

    worker_id: str
    command: str = "delete"
    version: str = "1"
    request_id: str = msgspec.field(default_factory=new_id)
    correlation_id: str = msgspec.field(default_factory=new_id)
    timestamp: str = msgspec.field(default_factory=utc_now_iso)


class POWorkerOutput(msgspec.Struct, kw_only=True):
    """A PO reply, read liberally: deployed wrappers name the text differently."""

    request_id: str | None = None
    user_id: int | None = None
    text: str | None = None
    content: str | None = None
    response: str | None = None
    result: str | None = None
    raw_output: Any = None
    is_final: bool = True
    timestamp: str | None = None
    buttons: Any = None
    """Rows of ``{"text", "data"}`` (CONTRACTS.md); read leniently by the relay's contract."""

    def __post_init__(self) -> None:
        if self.reply_text is None:
            raise ValueError("no reply text: none of text, content, response, result, raw_output")

    @property
    def reply_text(self) -> str | None:
        """``text``, else ``content``/``response``/``result``, else ``raw_output``."""
        for value in (self.text, self.content, self.response, self.result):
            if value is not None:
                return value
        if self.raw_output is None:
            return None
        if isinstance(self.raw_output, str):
            return self.raw_output
        return msgspec.json.encode(self.raw_output).decode()


# --- provisioner:results ----------------------------------------------------

ProvisionStatus = Literal["success", "failed", "error", "timeout"]
"""The statuses CONTRACTS.md lists; ``ProvisionerResult.status`` accepts any text."""


class ProvisionerResult(msgspec.Struct, kw_only=True):
    """A provisioning result, read liberally (CONTRACTS.md): the provisioner is another
    team's, and one odd field must not keep a server's result from the admins.

    Accepted beyond the contract: any ``status`` text (shown as written), a
    fractional ``duration_ms``, a null ``services_redeployed``, and ``errors``
    items of any JSON type (nulls dropped, others as their text). Still
    malformed: no ``server_handle`` or ``status``, either not a string, or a
    field of the wrong container type (``errors`` not a list, say).
    """

    server_handle: str
    status: str
    request_id: str | None = None
    error: str | None = None
    duration_ms: int | float | None = None
    server_ip: str | None = None
    services_redeployed: int | None = 0
    errors: list[Any] | None = None
    """Texts once decoded: ``__post_init__`` drops nulls and turns the rest into ``str``."""

    def __post_init__(self) -> None:
        if self.errors is not None:
            self.errors = [_as_text(item) for item in self.errors if item is not None]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


# --- the bot's own streams -------------------------------------------------


MessageKind = Literal["message", "cancel", "restart", "button"]

STOP_BUTTON_DATA: Final = "st1"
"""Callback data of the "⏹ Стоп" button under the relay's "working…" note: the
ingress queues it as ``/stop``. Versioned like the ingress's own buttons."""


class IncomingMessage(msgspec.Struct, kw_only=True):
    """A chat message from a known user, queued by the ingress for the relays."""

    user_id: int
    """The API's user id (not the Telegram id)."""
    telegram_id: int
    chat_id: int
    message_id: int
    text: str
    update_id: int
    timestamp: str = msgspec.field(default_factory=utc_now_iso)
    request_id: str = ""
    """Set by the ingress (a uuid4), carried to the PO's input and echoed in its
    replies: one id to follow a message through every process's logs. Empty in
    entries written before it existed; the relay then uses the entry id."""
    kind: MessageKind = "message"
    """``message``: a chat message for the PO. ``cancel``: the user's ``/stop`` (the
    relay cancels their current request). ``restart``: a confirmed ``/new`` (the relay
    stops their PO and drops the session); ``confirm_id`` is the confirmation's message id.
    ``button``: the press of a button a PO offered, forwarded like a message (in the user's
    order): ``text`` is its label, ``message_id`` the message that showed it."""
    confirm_id: int = 0
    reply_to: str = ""
    """``button``: the request id of the reply that carried the button."""
    data: str = ""
    """``button``: the button's data, as the PO gave it."""
    attachments: list[Attachment] = msgspec.field(default_factory=list)
    """``message``: the files sent with it (``text`` is then the caption, maybe empty); an
    album gathered by the relay brings all its files, in order."""
    media_group_id: str = ""
    """``message``: the album (Telegram's ``media_group_id``) this message is one part of."""
    language: str = ""
    """The sender's language as the ingress chose it (a catalogue's, ``shared.texts``): what
    the relay writes to them in. Empty (older entries): ``DEFAULT_LANGUAGE``."""


class AnswerMark(msgspec.Struct, frozen=True):
    """A Redis key set to the answer's id for ``ttl_s`` as an ingress answer goes out.

    ``only_if_new``: the answer goes out only if the key did not exist (or
    holds this answer's own id: the same answer, tried again after a crash);
    otherwise the key is set, or its TTL renewed, and the answer goes out regardless.
    """

    key: str
    ttl_s: int
    only_if_new: bool = False


class StoredAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """An ingress answer in ``bot:answers``: stored with its update, deleted once sent.

    ``owner`` is the ingress instance that sends it (``bot:ingress:alive:{owner}``
    exists while it runs); another ingress takes it over, as a copy under a new
    entry id with the same ``answer_id``, once the owner is gone. ``answer_id``
    names the answer wherever it moves: new messages are sent with the sender's
    key ``answer:{answer_id}``, so a copy taken over after a crash is not shown twice.
    """

    chat_id: int
    pieces: list[Piece]
    reply_markup: dict[str, Any] | None = None
    edit_of: int | None = None
    """The id of the bot's message to edit into this answer (one piece); None: a new message."""
    mark: AnswerMark | None = None
    owner: str
    answer_id: str
    created_at: str
    """When the update that asked for it arrived (ISO-8601 UTC): too old, and it is dropped."""


# --- backend API -----------------------------------------------------------


class User(msgspec.Struct, kw_only=True):
    id: int
    telegram_id: int
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_admin: bool = False


class NewUser(msgspec.Struct, kw_only=True):
    """The body of ``POST /api/users/`` (CONTRACTS.md, "onboarding routes")."""

    telegram_id: int
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_admin: bool = False


class ProjectConfig(msgspec.Struct, kw_only=True):
    description: str | None = None
    repo_url: str | None = None
    deployed_url: str | None = None


class Project(msgspec.Struct, kw_only=True):
    id: str | int
    name: str
    status: str = "unknown"
    description: str | None = None
    repository_url: str | None = None
    deployed_url: str | None = None
    owner_id: int | None = None
    config: ProjectConfig | None = None

    @property
    def repository(self) -> str | None:
        return self.repository_url or (self.config.repo_url if self.config else None)

    @property
    def summary(self) -> str | None:
        return self.description or (self.config.description if self.config else None)

    @property
    def deployed(self) -> str | None:
        return self.deployed_url or (self.config.deployed_url if self.config else None)


class Server(msgspec.Struct, kw_only=True):
    handle: str
    host: str = ""
    public_ip: str | None = None
    status: str = "unknown"
    capacity_cpu: int = 0
    capacity_ram_mb: int = 0
    capacity_disk_mb: int = 0
    used_ram_mb: int = 0
    used_disk_mb: int = 0
    is_managed: bool = False
    labels: dict[str, Any] = msgspec.field(default_factory=dict)


class Task(msgspec.Struct, kw_only=True):
    id: str | int
    type: str = "unknown"
    status: str = "unknown"
    project_id: str | int | None = None
    created_at: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    error_message: str | None = None


# --- the one-field ``data`` encoding ---------------------------------------

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


class MalformedEntry(ValueError):
    """A stream entry that cannot be decoded or validated."""


def encode(obj: msgspec.Struct) -> bytes:
    return _encoder.encode(obj)


def encode_entry(obj: msgspec.Struct) -> dict[str, bytes]:
    """The fields for ``XADD``: ``{"data": <json>}``."""
    return {DATA_FIELD: _encoder.encode(obj)}


def decode(data: bytes | str, type_: type[T]) -> T:
    """Decode and validate JSON into ``type_``; raise ``MalformedEntry`` with the reason."""
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    try:
        return decoder.decode(data)  # type: ignore[no-any-return]
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise MalformedEntry(str(exc)) from exc


def decode_entry(fields: dict[bytes, bytes] | dict[str, str], type_: type[T]) -> T:
    """Decode a stream entry's fields (``{"data": <json>}``) into ``type_``."""
    data = fields.get(DATA_FIELD) or fields.get(DATA_FIELD.encode())  # type: ignore[call-overload]
    if data is None:
        raise MalformedEntry(f"entry has no {DATA_FIELD!r} field")
    return decode(data, type_)
