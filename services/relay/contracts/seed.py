"""``seed``: the design document's per-user streams (CONTRACTS.md, the default)."""

from __future__ import annotations

from typing import Any, Final

from services.relay.contracts.attachments import read_attachments
from services.relay.contracts.base import OutputStreams, POReply
from services.relay.contracts.buttons import read_buttons
from shared import keys
from shared.schemas import (
    DeleteWorkerCommand,
    IncomingMessage,
    POWorkerInput,
    POWorkerOutput,
    decode_entry,
    encode,
)
from shared.streams import Fields

_OUTPUTS: Final = OutputStreams(keys.po_output)


class SeedOutput(POWorkerOutput, kw_only=True):
    """The output entry with the bot's ``attachments`` (CONTRACTS.md, "Bot extensions"):
    a reply may then be files only, with no text."""

    attachments: Any = None

    def __post_init__(self) -> None:
        if self.reply_text is None and not self.attachments:
            raise ValueError("no reply text: none of text, content, response, result, raw_output")


class SeedContract:
    """``worker:po:{user_id}:input``/``:output``, ``text``, snapshots by ``is_final``."""

    name: str = "seed"
    lifecycle_stream: str | None = None

    def input_stream(self, user_id: int) -> str:
        return keys.po_input(user_id)

    def output_stream(self, user_id: int) -> str:
        return keys.po_output(user_id)

    @property
    def output_pattern(self) -> str:
        return _OUTPUTS.pattern

    def user_of_output(self, stream: str) -> int | None:
        return _OUTPUTS.user_of(stream)

    def input_data(self, message: IncomingMessage, request_id: str) -> bytes:
        press = message.kind == "button"
        return encode(
            POWorkerInput(
                request_id=request_id,
                user_id=message.user_id,
                telegram_id=message.telegram_id,
                chat_id=message.chat_id,
                text=message.text,
                # A press of the PO's button (CONTRACTS.md): which reply, and its data.
                type="button" if press else None,
                reply_to=message.reply_to if press else None,
                data=message.data if press else None,
                attachments=message.attachments or None,
            )
        )

    def decode_output(self, fields: Fields) -> POReply:
        output = decode_entry(fields, SeedOutput)
        final = output.is_final
        buttons = read_buttons(output.buttons, output.request_id) if final else ()
        files = read_attachments(output.attachments, output.request_id) if final else ()
        return POReply(output.reply_text, final, output.request_id, buttons, files)

    def failed_user(self, fields: Fields) -> int | None:
        return None

    def steer_data(self, message: IncomingMessage, request_id: str) -> bytes | None:
        return encode(
            POWorkerInput(
                request_id=request_id,
                user_id=message.user_id,
                telegram_id=message.telegram_id,
                chat_id=message.chat_id,
                text=message.text,
                type="message",
                steer=True,
                attachments=message.attachments or None,
            )
        )

    def cancel_data(self, message: IncomingMessage, cancels: str) -> bytes | None:
        return encode(
            POWorkerInput(
                request_id=message.request_id,
                user_id=message.user_id,
                telegram_id=message.telegram_id,
                chat_id=message.chat_id,
                text=message.text,
                type="cancel",
                cancels=cancels,
            )
        )

    def delete_command(self, user_id: int) -> bytes:
        return encode(DeleteWorkerCommand(worker_id=keys.po_worker_id(user_id)))


SEED: Final = SeedContract()
