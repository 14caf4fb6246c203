"""``worker-streams``: the deployed worker wrapper of January-February 2026 (CONTRACTS.md).

The wrapper reads ``worker:{worker_id}:input`` and wants ``content``; it
answers on ``worker:{worker_id}:output`` with one of three shapes (plain
``content``, a structured ``<result>`` object, or the agent CLI's raw
stdout), never streamed. Whatever it writes, the user never sees raw agent
JSON. A ``failed`` event on ``worker:lifecycle`` means the message was not
answered; its own ``{"status": "failed", "error"}`` output entry (written
just before that event since February 2026) is handled silently, so the
user is told once.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from services.relay.contracts.attachments import read_attachments
from services.relay.contracts.base import OutputStreams, POReply
from services.relay.contracts.buttons import read_buttons
from shared import keys
from shared.attachments import Attachment
from shared.schemas import (
    DATA_FIELD,
    DeleteWorkerCommand,
    IncomingMessage,
    MalformedEntry,
    decode,
    encode,
    utc_now_iso,
)
from shared.streams import Fields
from shared.texts import RU, Texts

RAW_LIMIT: Final = 3500
"""Raw agent text longer than this is cut (with an ellipsis): it is a fallback, not a reply."""
SHOWN_KEYS: Final = ("summary", "message", "text")
"""The keys of a structured result shown to the user, first present wins."""
_WORKER_ID: Final = re.compile(r"po-(\d+)")


class WrapperInput(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The input entry: ``content`` for the wrapper, the seed fields beside it.

    A button press is ``content`` = its label plus ``type``/``reply_to``/``data``
    (the wrapper ignores keys it does not know; a PO that knows them can use them).
    """

    content: str
    request_id: str
    user_id: int
    telegram_id: int
    chat_id: int
    timestamp: str = msgspec.field(default_factory=utc_now_iso)
    type: str | None = None
    reply_to: str | None = None
    data: str | None = None
    attachments: list[Attachment] | None = None
    """A message's files beside ``content`` (the caption), as in ``seed``."""


class LifecycleEvent(msgspec.Struct, kw_only=True):
    """``worker:lifecycle``: the wrapper's ``WorkerLifecycleEvent`` (result, timestamp ignored)."""

    worker_id: str
    event: str
    error: str | None = None


_encoder = msgspec.json.Encoder()
_OUTPUTS: Final = OutputStreams(lambda user_id: keys.worker_output(keys.po_worker_id(user_id)))


class WorkerStreamsContract:
    """The wrapper's stream names, ``content``, and its three output shapes."""

    name: str = "worker-streams"
    lifecycle_stream: str | None = keys.WORKER_LIFECYCLE

    def __init__(self, texts: Texts = RU) -> None:
        self._generic = texts.po_result_generic

    def input_stream(self, user_id: int) -> str:
        return keys.worker_input(keys.po_worker_id(user_id))

    def output_stream(self, user_id: int) -> str:
        return keys.worker_output(keys.po_worker_id(user_id))

    @property
    def output_pattern(self) -> str:
        return _OUTPUTS.pattern

    def user_of_output(self, stream: str) -> int | None:
        return _OUTPUTS.user_of(stream)

    def input_data(self, message: IncomingMessage, request_id: str) -> bytes:
        return _encoder.encode(
            WrapperInput(
                content=message.text or _files_prompt(message.attachments),
                request_id=request_id,
                user_id=message.user_id,
                telegram_id=message.telegram_id,
                chat_id=message.chat_id,
                attachments=message.attachments or None,
                **_press_fields(message),
            )
        )

    def decode_output(self, fields: Fields) -> POReply:
        output = decode(_data(fields), dict[str, Any])
        raw_id = output.get("request_id")
        request_id = raw_id if isinstance(raw_id, str) else None
        buttons = read_buttons(output.get("buttons"), request_id)
        files = read_attachments(output.get("attachments"), request_id)
        text = self._text_of(output)
        if files and text is self._generic:
            text = None  # files with no words: the files are the reply
        return POReply(text, True, request_id, buttons, files)

    def steer_data(self, message: IncomingMessage, request_id: str) -> bytes | None:
        return None  # the wrapper runs one task at a time: a message waits for the last

    def cancel_data(self, message: IncomingMessage, cancels: str) -> bytes | None:
        # The wrapper would run "/stop" as a task: the bot stops showing it instead.
        return None

    def delete_command(self, user_id: int) -> bytes:
        return encode(DeleteWorkerCommand(worker_id=keys.po_worker_id(user_id)))

    def failed_user(self, fields: Fields) -> int | None:
        event = decode(_data(fields), LifecycleEvent)
        if event.event != "failed":
            return None
        match = _WORKER_ID.fullmatch(event.worker_id)
        return int(match.group(1)) if match else None

    # --- the output shapes ------------------------------------------------------------

    def _text_of(self, output: dict[str, Any]) -> str | None:
        content = output.get("content")
        if isinstance(content, str) and content.strip():
            return content
        if "raw_output" in output:
            return self._from_raw(output["raw_output"])
        shown = [output[k] for k in SHOWN_KEYS if isinstance(output.get(k), str)]
        shown = [value for value in shown if value.strip()]
        if shown:
            return str(shown[0])
        if output.get("status") == "failed":
            return None  # the lifecycle ``failed`` event that follows tells the user
        return self._generic

    def _from_raw(self, raw: object) -> str:
        """The ``result`` of the agent CLI's ``type: result`` object; else the text, trimmed."""
        if not isinstance(raw, str):
            return _result_of([raw]) or self._generic
        stripped = raw.strip()
        values, only_json = _json_values(stripped)
        if (result := _result_of(values)) is not None:
            return result
        if only_json or not stripped:
            return self._generic  # agent JSON without a result: never shown as it is
        if len(stripped) > RAW_LIMIT:
            return stripped[: RAW_LIMIT - 1].rstrip() + "…"
        return stripped


def _files_prompt(attachments: list[Attachment]) -> str:
    """``content`` for files sent without a caption: the wrapper rejects an empty prompt.

    One line per file with its link, so a PO that reads only ``content`` still gets them.
    """
    return "\n".join(
        f"[{a.kind}{f' {a.file_name}' if a.file_name else ''}] {a.url}" for a in attachments
    )


def _press_fields(message: IncomingMessage) -> dict[str, str]:
    if message.kind != "button":
        return {}
    return {"type": "button", "reply_to": message.reply_to, "data": message.data}


def _data(fields: Fields) -> bytes:
    data = fields.get(DATA_FIELD.encode())
    if data is None:
        raise MalformedEntry(f"entry has no {DATA_FIELD!r} field")
    return data


def _json_values(stdout: str) -> tuple[list[Any], bool]:
    """The JSON values in ``stdout`` (one document, or JSON lines); and whether that is all."""
    try:
        return [msgspec.json.decode(stdout)], True
    except msgspec.DecodeError:
        pass
    values: list[Any] = []
    only_json = True
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            values.append(msgspec.json.decode(line))
        except msgspec.DecodeError:
            only_json = False
    return values, only_json


def _result_of(values: list[Any]) -> str | None:
    """The last ``{"type": "result", "result": "<text>"}`` among ``values``."""
    for value in reversed(values):
        if isinstance(value, dict) and value.get("type") == "result":
            result = value.get("result")
            if isinstance(result, str) and result.strip():
                return result
    return None
