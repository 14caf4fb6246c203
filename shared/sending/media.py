"""Files as Bot API uploads: each file (or album) one keyed message of parts, the upload first.

:func:`file_calls` and :func:`group_calls` build the parts that
:meth:`Sender.send_calls <shared.sending.sender.Sender.send_calls>` makes in
order, so a file goes through the same flood budget, retries and sent log
as text: part 0 is the upload (``sendPhoto``... or ``sendMediaGroup``,
recorded under the key once Telegram accepted it, never uploaded again),
the parts after it are captions too long for Telegram (over 1,024 UTF-16
units once rendered), sent as text right after the file. A caption is
rendered like a reply (HTML) and falls back to plain text on "can't parse
entities", as text does. ``reply_markup`` goes on the last part; an album
cannot carry one, so it then gets a short text of its own to carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from shared.attachments import CAPTION_LIMIT, OutgoingKind
from shared.sending.attempts import Call, PartCall
from shared.sending.pieces import Piece, ReplyMarkup, pieces
from shared.telegram import TelegramClient, Upload

METHODS: Final[dict[str, str]] = {
    "photo": "sendPhoto", "document": "sendDocument", "audio": "sendAudio",
    "voice": "sendVoice", "video": "sendVideo", "animation": "sendAnimation",
}  # fmt: skip
"""The Bot API method sending each kind; its file goes in the field named like the kind."""
_NO_CAPTION: Final = Piece.plain_text("")


@dataclass(frozen=True, slots=True)
class FileUpload:
    """One file to send: what kind, its bytes (and name, type), its caption."""

    kind: OutgoingKind
    upload: Upload
    caption: str | None = None


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def caption_parts(caption: str | None) -> tuple[Piece, list[Piece]]:
    """The caption sent with the file, and the text sent after it instead when too long."""
    if caption is None or not caption.strip():
        return _NO_CAPTION, []
    rendered = pieces(caption)
    if len(rendered) == 1 and utf16_len(rendered[0].plain) <= CAPTION_LIMIT:
        return rendered[0], []
    return _NO_CAPTION, rendered


def file_calls(
    client: TelegramClient, chat_id: int, file: FileUpload, reply_markup: ReplyMarkup | None
) -> list[PartCall]:
    """One file: its upload, then its caption as text if too long; markup on the last."""
    caption, after = caption_parts(file.caption)
    method = METHODS[file.kind]
    markup = None if after else reply_markup

    async def call(piece: Piece) -> int:
        params: dict[str, Any] = {"chat_id": chat_id, "reply_markup": _markup(markup)}
        if piece.text:
            params |= {"caption": piece.text, "parse_mode": piece.parse_mode}
        message = await client.call(method, params, files={file.kind: file.upload})
        return int(message["message_id"])

    return [PartCall(caption, call, method), *text_calls(client, chat_id, after, reply_markup)]


def group_calls(
    client: TelegramClient,
    chat_id: int,
    files: Sequence[FileUpload],
    reply_markup: ReplyMarkup | None,
    markup_text: str,
) -> list[PartCall]:
    """2-10 photos and videos as one ``sendMediaGroup`` (``attach://``), long captions after.

    An album carries no keyboard: ``reply_markup`` goes on the last caption
    sent after it, or on a text of its own (``markup_text``).
    """
    captions = [caption_parts(file.caption) for file in files]
    after = [piece for _, long in captions for piece in long]
    html = any(caption.parse_mode is not None for caption, _ in captions)

    async def call(piece: Piece) -> int:
        # ``piece`` says only whether captions go as HTML (its plain form after a
        # "can't parse entities"): each item carries its own caption.
        media: list[dict[str, Any]] = []
        parts: dict[str, Upload] = {}
        for index, (file, (caption, _)) in enumerate(zip(files, captions, strict=True)):
            name = f"file{index}"
            item: dict[str, Any] = {"type": file.kind, "media": f"attach://{name}"}
            if caption.text:
                as_html = piece.parse_mode is not None and caption.parse_mode is not None
                item["caption"] = caption.text if as_html else caption.plain
                if as_html:
                    item["parse_mode"] = caption.parse_mode
            media.append(item)
            parts[name] = file.upload
        params = {"chat_id": chat_id, "media": media}
        messages = await client.call("sendMediaGroup", params, files=parts)
        return int(messages[0]["message_id"])

    marker = Piece("", "HTML", "") if html else _NO_CAPTION
    group = PartCall(marker, call, "sendMediaGroup")
    if reply_markup is not None and not after:
        after = [Piece.plain_text(markup_text)]
    return [group, *text_calls(client, chat_id, after, reply_markup)]


def text_calls(
    client: TelegramClient, chat_id: int, items: Sequence[Piece], reply_markup: ReplyMarkup | None
) -> list[PartCall]:
    """Text parts (``sendMessage``); ``reply_markup`` on the last."""
    last = len(items) - 1
    return [
        PartCall(piece, text_call(client, chat_id, reply_markup if i == last else None))
        for i, piece in enumerate(items)
    ]


def text_call(client: TelegramClient, chat_id: int, reply_markup: ReplyMarkup | None) -> Call:
    async def call(piece: Piece) -> int:
        message = await client.send_message(
            chat_id, piece.text, parse_mode=piece.parse_mode, reply_markup=reply_markup
        )
        return int(message["message_id"])

    return call


def _markup(reply_markup: ReplyMarkup | None) -> dict[str, Any] | None:
    return None if reply_markup is None else dict(reply_markup)
