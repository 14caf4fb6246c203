"""``seed``: the design document's per-user streams (CONTRACTS.md, the default)."""

from __future__ import annotations

from typing import Final

from services.relay.contracts.base import POReply
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


class SeedContract:
    """``worker:po:{user_id}:input``/``:output``, ``text``, snapshots by ``is_final``."""

    name: str = "seed"
    lifecycle_stream: str | None = None

    def input_stream(self, user_id: int) -> str:
        return keys.po_input(user_id)

    def output_stream(self, user_id: int) -> str:
        return keys.po_output(user_id)

    def input_data(self, message: IncomingMessage, request_id: str) -> bytes:
        return encode(
            POWorkerInput(
                request_id=request_id,
                user_id=message.user_id,
                telegram_id=message.telegram_id,
                chat_id=message.chat_id,
                text=message.text,
                **_press_fields(message),
            )
        )

    def decode_output(self, fields: Fields) -> POReply:
        output = decode_entry(fields, POWorkerOutput)
        buttons = read_buttons(output.buttons, output.request_id) if output.is_final else ()
        return POReply(output.reply_text, output.is_final, output.request_id, buttons)

    def failed_user(self, fields: Fields) -> int | None:
        return None

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


def _press_fields(message: IncomingMessage) -> dict[str, str]:
    """A button press's extra keys (CONTRACTS.md): ``type``, ``reply_to``, ``data``."""
    if message.kind != "button":
        return {}
    return {"type": "button", "reply_to": message.reply_to, "data": message.data}
