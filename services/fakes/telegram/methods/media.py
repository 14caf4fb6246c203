"""Files the bot sends: ``sendPhoto``... ``sendAnimation`` and ``sendMediaGroup``, as Telegram.

A file comes as a multipart part (the field named like the kind, or
``attach://<name>`` inside ``sendMediaGroup``'s ``media``) or as the
``file_id`` of a file the fake holds. Telegram's limits and answers: a
photo over 10 MB or any file over 50 MB is ``file is too big`` (a request
body over 50 MB is 413 before that: ``server.py``), an empty file ``file
must be non-empty``, a caption over 1,024 UTF-16 units once parsed
``message caption is too long``, an album of 2-10 items, photos and videos
mixed or documents (or audios) only. Each send spends the flood budget
like ``sendMessage`` (an album once). Uploaded bytes go to ``fake.files``,
so the ``file_id``s in the answers resolve (``getFile``, downloads).
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

from shared.attachments import CAPTION_LIMIT, MEDIA_GROUP_MAX, MEDIA_GROUP_MIN, UPLOAD_LIMIT

from ..entities import utf16_len
from ..errors import bad_request
from ..formatting import format_message_text
from ..params import Params
from ..wire import JSONDict
from .markup import reply_markup
from .registry import bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram

PHOTO_LIMIT: Final = 10 * 1024 * 1024
"""Telegram's limit for a photo upload."""
_DEFAULT_MIME: Final = {
    "audio": "audio/mpeg", "voice": "audio/ogg", "video": "video/mp4", "animation": "video/mp4",
}  # fmt: skip
_DEFAULT_NAME: Final = {"video": "video.mp4", "animation": "animation.mp4"}


class _Input:
    """A file as the call gave it: new bytes, or a file the fake already holds."""

    def __init__(self, content: bytes, file_name: str | None, mime_type: str | None) -> None:
        self.content = content
        self.file_name = file_name
        self.mime_type = mime_type


async def _send(fake: FakeTelegram, params: Params, kind: str) -> Any:
    chat_id = params.chat_id()
    given = _input_file(fake, params, params.raw.get(kind), kind)
    caption = _caption(fake, params.string("caption"), params.string("parse_mode"), params)
    markup = reply_markup(params)
    fake.admit_send(chat_id)
    fields = {kind: _store(fake, kind, given), **caption}
    if kind == "animation":
        fields["document"] = copy.deepcopy(fields[kind])  # as Telegram answers an animation
    return _post(fake, chat_id, fields, markup)


@bot_method("sendPhoto")
async def send_photo(fake: FakeTelegram, params: Params) -> Any:
    return await _send(fake, params, "photo")


@bot_method("sendDocument")
async def send_document(fake: FakeTelegram, params: Params) -> Any:
    return await _send(fake, params, "document")


@bot_method("sendAudio")
async def send_audio(fake: FakeTelegram, params: Params) -> Any:
    return await _send(fake, params, "audio")


@bot_method("sendVoice")
async def send_voice(fake: FakeTelegram, params: Params) -> Any:
    return await _send(fake, params, "voice")


@bot_method("sendVideo")
async def send_video(fake: FakeTelegram, params: Params) -> Any:
    return await _send(fake, params, "video")


@bot_method("sendAnimation")
async def send_animation(fake: FakeTelegram, params: Params) -> Any:
    return await _send(fake, params, "animation")


@bot_method("sendMediaGroup")
async def send_media_group(fake: FakeTelegram, params: Params) -> Any:
    chat_id = params.chat_id()
    media = params.json("media")
    if not isinstance(media, list):
        raise bad_request("can't parse media JSON object")
    if not MEDIA_GROUP_MIN <= len(media) <= MEDIA_GROUP_MAX:
        raise bad_request("media must include 2-10 items")
    if not all(isinstance(item, dict) for item in media):
        raise bad_request("can't parse InputMedia JSON object")
    _check_mix([str(item.get("type")) for item in media])
    items = []
    for item in media:
        kind = str(item["type"])
        given = _input_file(fake, params, item.get("media"), kind, in_group=True)
        caption = _caption(fake, item.get("caption"), item.get("parse_mode"), None)
        items.append((kind, given, caption))
    fake.admit_send(chat_id)
    group_id = str(secrets.randbelow(10**17) + 10**17)
    return [
        _post(fake, chat_id, {kind: _store(fake, kind, given), **caption}, None, group_id)
        for kind, given, caption in items
    ]


def _check_mix(kinds: list[str]) -> None:
    for kind in kinds:
        if kind not in ("photo", "video", "document", "audio"):
            raise bad_request(f'unsupported media type "{kind}" in the media group')
    for alone in ("document", "audio"):
        if alone in kinds and any(kind != alone for kind in kinds):
            raise bad_request(f"{alone} can't be mixed with other media types")


def _input_file(
    fake: FakeTelegram, params: Params, value: Any, kind: str, *, in_group: bool = False
) -> _Input:
    """The file a call names: its own part (``attach://`` in a group) or a held ``file_id``."""
    if value is None or value == "":
        if in_group:
            raise bad_request("can't parse InputMedia: media not specified")
        raise bad_request(f"there is no {kind} in the request")
    upload = None
    if isinstance(value, dict) and kind in params.files and not in_group:
        upload = params.files[kind]
    elif isinstance(value, str) and value.startswith("attach://"):
        upload = params.files.get(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request(f'can\'t find attached file "{value}"')
    if upload is None:
        held = fake.files.get(str(value))
        if held is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return _Input(held.content, None, None)
    content = upload.content
    if not content:
        raise bad_request("file must be non-empty")
    if len(content) > (PHOTO_LIMIT if kind == "photo" else UPLOAD_LIMIT):
        raise bad_request("file is too big")
    return _Input(content, upload.filename, upload.content_type)


def _caption(fake: FakeTelegram, text: Any, parse_mode: Any, params: Params | None) -> JSONDict:
    if not text:
        return {}
    entities = params.json("caption_entities") if params is not None else None
    formatted = format_message_text(
        str(text), str(parse_mode) if parse_mode else None, entities, strict_html=fake.strict_html
    )
    if utf16_len(formatted.text) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    fields: JSONDict = {"caption": formatted.text} if formatted.text else {}
    if formatted.entities:
        fields["caption_entities"] = formatted.entities
    return fields


def _store(fake: FakeTelegram, kind: str, given: _Input) -> Any:
    """The file kept in ``fake.files``, described as the Message field Telegram returns."""
    stored = fake.files.add(given.content, kind=kind, file_name=given.file_name)
    ids = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if kind == "photo":
        thumb = fake.files.add(given.content[:1024], kind=kind)
        small = {"file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id}
        return [
            {**small, "file_size": thumb.size, "width": 90, "height": 51},
            {**ids, "file_size": stored.size, "width": 1280, "height": 720},
        ]
    media: JSONDict = dict(ids)
    if kind in ("video", "animation"):
        media |= {"width": 1280, "height": 720}
    if kind != "document":
        media["duration"] = 3
    name = given.file_name or _DEFAULT_NAME.get(kind)
    if name is not None and kind in ("document", "audio", "video", "animation"):
        media["file_name"] = name
    mime = given.mime_type or _DEFAULT_MIME.get(kind)
    if mime is not None:
        media["mime_type"] = mime
    media["file_size"] = stored.size
    return media


def _post(
    fake: FakeTelegram,
    chat_id: int,
    fields: JSONDict,
    markup: JSONDict | None,
    media_group_id: str | None = None,
) -> JSONDict:
    """Store the bot's media message and return it as Telegram does."""
    chat = fake.chat(chat_id)
    message: JSONDict = {
        "message_id": chat.next_message_id(),
        "from": fake.bot_user,
        "chat": chat.info,
        "date": int(time.time()),
    }
    if media_group_id is not None:
        message["media_group_id"] = media_group_id
    message |= fields
    if markup is not None and "inline_keyboard" in markup:
        message["reply_markup"] = markup
    chat.messages[message["message_id"]] = copy.deepcopy(message)
    chat.drafts.clear()
    fake.notify()
    return message
