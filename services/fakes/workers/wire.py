"""What the fake PO reads and writes in each PO contract profile (CONTRACTS.md).

``seed``: ``worker:po:{user_id}:input``/``:output``, ``text``, snapshots.
``worker-streams``: the deployed worker wrapper: ``worker:po-{user_id}:input``
read for ``content`` (else ``prompt``; neither: rejected with the wrapper's
own words), one output entry per input in one of the wrapper's shapes, and
``started``/``completed``/``failed`` events on ``worker:lifecycle``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from shared import keys
from shared.schemas import (
    DATA_FIELD,
    MalformedEntry,
    POWorkerInput,
    decode,
    decode_entry,
    utc_now_iso,
)
from shared.streams import Fields

Profile = Literal["seed", "worker-streams"]
WrapperOutput = Literal[
    "content", "structured", "structured_bare", "raw_json", "raw_text", "failed"
]
"""The wrapper's output shapes: ``{"content", "status": "success"}``; a ``<result>`` object
with a ``summary`` or without any text; ``{"raw_output", "status": "no_structured_result"}``
holding the agent CLI's JSON lines or plain text; and an agent failure."""
MISSING_PROMPT = "Task data missing 'content' or 'prompt'"
"""The wrapper's error for an input entry it cannot use."""


def input_stream(profile: Profile, user_id: int) -> str:
    if profile == "worker-streams":
        return keys.worker_input(keys.po_worker_id(user_id))
    return keys.po_input(user_id)


def output_stream(profile: Profile, user_id: int) -> str:
    if profile == "worker-streams":
        return keys.worker_output(keys.po_worker_id(user_id))
    return keys.po_output(user_id)


def read_input(profile: Profile, user_id: int, fields: Fields) -> POWorkerInput:
    """An input entry as the PO understands it; ``MalformedEntry`` when it would reject it."""
    if profile == "seed":
        entry = decode_entry(fields, dict[str, Any])
        # Files are read on their own (``read_attachments_field``), leniently: one the
        # PO cannot read is described as such, never a reason to reject the message.
        entry.pop("attachments", None)
        try:
            return msgspec.convert(entry, POWorkerInput)
        except msgspec.ValidationError as exc:
            raise MalformedEntry(str(exc)) from None
    data = fields.get(DATA_FIELD.encode())
    if data is None:
        raise MalformedEntry(f"entry has no {DATA_FIELD!r} field")
    task = decode(data, dict[str, Any])
    prompt = task.get("content") or task.get("prompt")
    if not prompt or not isinstance(prompt, str):
        raise MalformedEntry(MISSING_PROMPT)
    return POWorkerInput(
        request_id=str(task.get("request_id") or ""),
        user_id=int(task.get("user_id") or user_id),
        telegram_id=int(task.get("telegram_id") or 0),
        chat_id=int(task.get("chat_id") or 0),
        text=prompt,
        # A PO that knows the bot's extensions reads them beside ``content``.
        type=_text_or_none(task.get("type")),
        reply_to=_text_or_none(task.get("reply_to")),
        data=_text_or_none(task.get("data")),
    )


def read_attachments_field(profile: Profile, fields: Fields) -> Any:
    """The input's raw ``attachments`` (None: none): in ``seed`` a key of the ``data`` JSON,
    in ``worker-streams`` a key of the task beside ``content`` (CONTRACTS.md, "Bot extensions")."""
    data = fields.get(DATA_FIELD.encode())
    if data is None:
        return None
    try:
        entry = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    return entry.get("attachments") if isinstance(entry, dict) else None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def wrapper_output(shape: WrapperOutput, reply: str, error: str) -> dict[str, Any]:
    """The wrapper's output entry (its ``data`` JSON) for an agent that answered ``reply``."""
    if shape == "content":
        return {"content": reply, "status": "success"}
    if shape == "structured":
        return {"summary": reply, "status": "done", "files_changed": ["README.md"]}
    if shape == "structured_bare":
        return {"status": "done", "files_changed": ["README.md"], "commit_sha": "0" * 40}
    if shape == "raw_json":
        lines = [
            {"type": "system", "subtype": "init", "session_id": "s-1"},
            {"type": "assistant", "message": {"content": [{"type": "text", "text": reply}]}},
            {"type": "result", "subtype": "success", "result": reply, "session_id": "s-1"},
        ]
        raw = "\n".join(msgspec.json.encode(line).decode() for line in lines)
        return {"raw_output": raw, "status": "no_structured_result"}
    if shape == "raw_text":
        return {"raw_output": f"  {reply}\n", "status": "no_structured_result"}
    return {"status": "failed", "error": error}


def lifecycle_event(
    worker_id: str, event: str, *, result: Any = None, error: str | None = None
) -> dict[str, bytes]:
    """A ``worker:lifecycle`` entry, as the wrapper's ``WorkerLifecycleEvent`` is written."""
    payload = {
        "worker_id": worker_id,
        "event": event,
        "timestamp": utc_now_iso(),
        "result": result,
        "error": error,
        "exit_code": None,
    }
    return {DATA_FIELD: msgspec.json.encode(payload)}
