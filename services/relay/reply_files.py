"""A reply's files, after its text: fetched, uploaded in the PO's order, each at most once.

The units, in the PO's order: each run of 2-10 consecutive photos and
videos is one album (``sendMediaGroup``), every other file one upload
(``sendPhoto``, ``sendDocument``...; a photo over Telegram's 10 MB goes as
a document). Unit ``n`` (its first file's index) is keyed
``{reply key}:f{n}``: part 0 is its upload, the parts after it its long
captions as text (:mod:`shared.sending.media`). A unit whose part 0 is
recorded is not fetched again, so a relay taking the reply over after a
crash uploads nothing twice.

A file that cannot be had (a bad description, bad base64, ``data`` over
10 MB, a refused or failed download) or that Telegram refuses becomes a
one-line note in its place (keyed too: a single file's note is its unit's
part 0, an album member's ``{unit}:n{i}``, sent before the album); the
rest still goes. Telegram failing (5xx, network) stops here: the reply is
tried again later and resumes at the first unit not sent. A blocked bot
stops it for good. ``docs/ARCHITECTURE.md``, "Attachments: PO -> user".
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from services.relay.contracts.attachments import Attachments, Unreadable
from services.relay.contracts.base import POReply
from services.relay.fetching import FetchError
from services.relay.languages import ChatLanguages
from services.relay.outbound import Delivery, Outbound, Sent
from shared.attachments import INLINE_DATA_LIMIT, MEDIA_GROUP_MAX, MEDIA_GROUP_MIN
from shared.attachments import OutgoingAttachment as Attachment
from shared.log import get_logger
from shared.sending.media import FileUpload
from shared.sending.pieces import ReplyMarkup
from shared.telegram import Upload

log = get_logger(__name__)

PHOTO_LIMIT: Final = 10 * 1024 * 1024
"""Telegram's limit for a photo upload; a bigger one is sent as a document."""
DEFAULT_NAMES: Final = {
    "photo": "photo.jpg", "document": "file", "audio": "audio.mp3",
    "voice": "voice.ogg", "video": "video.mp4", "animation": "animation.mp4",
}  # fmt: skip
_ALBUM_KINDS: Final = frozenset({"photo", "video"})
BLOCKED: Final = 403
"""Telegram's ``error_code`` when the user blocked the bot: nothing more goes to them."""
_DONE: Final = Sent(Delivery.DELIVERED)


class _Unavailable(Exception):
    """The file's bytes cannot be had; ``str(exc)`` says why (for the log)."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One upload: a single file (or unreadable item), or an album; ``first``: its index."""

    first: int
    items: tuple[Attachment | Unreadable, ...]

    @property
    def album(self) -> bool:
        return len(self.items) >= MEDIA_GROUP_MIN


def units(attachments: Attachments) -> list[Unit]:
    """The uploads, in order: runs of photos and videos grouped by up to 10."""
    found: list[Unit] = []
    index = 0
    while index < len(attachments):
        run = 0
        while (
            index + run < len(attachments)
            and run < MEDIA_GROUP_MAX
            and _albumable(attachments[index + run])
        ):
            run += 1
        size = run if run >= MEDIA_GROUP_MIN else 1
        found.append(Unit(index, tuple(attachments[index : index + size])))
        index += size
    return found


def _albumable(item: Attachment | Unreadable) -> bool:
    return isinstance(item, Attachment) and item.kind in _ALBUM_KINDS


class ReplyFiles:
    """Sends a reply's files through the relay's :class:`Outbound`; see the module docstring."""

    def __init__(self, outbound: Outbound, languages: ChatLanguages) -> None:
        self._outbound = outbound
        self._languages = languages

    async def send_reply(
        self, chat_id: int, reply: POReply, *, key: str, reply_markup: ReplyMarkup | None = None
    ) -> Sent:
        """The reply's text, then its files; the buttons under the last part of all."""
        text = reply.text
        if text is not None and text == self._languages.default.po_result_generic:
            # The contract's words for a result with nothing to show: decoded before the
            # chat was known, so in DEFAULT_LANGUAGE; said in the user's.
            text = (await self._languages.texts(chat_id)).po_result_generic
        if not reply.attachments:
            return await self._outbound.send(
                chat_id, text or "", key=key, reply_markup=reply_markup
            )
        if text is not None and text.strip():
            sent = await self._outbound.send(chat_id, text, key=key)
            if sent.delivery is Delivery.RETRY or sent.error_code == BLOCKED:
                return sent
        return await self.send(chat_id, reply.attachments, key=key, reply_markup=reply_markup)

    async def send(
        self,
        chat_id: int,
        attachments: Attachments,
        *,
        key: str,
        reply_markup: ReplyMarkup | None = None,
    ) -> Sent:
        """Every unit in order; ``reply_markup`` under the last. DELIVERED once all are
        handled (sent or noted), RETRY to resume later, GAVE_UP when the bot is blocked."""
        planned = units(attachments)
        for position, unit in enumerate(planned):
            markup = reply_markup if position == len(planned) - 1 else None
            unit_key = f"{key}:f{unit.first}"
            if unit.album:
                sent = await self._album(chat_id, unit, unit_key, markup)
            else:
                sent = await self._single(chat_id, unit.first, unit.items[0], unit_key, markup)
            if sent.delivery is not Delivery.DELIVERED:
                return sent
        return _DONE

    async def _single(
        self,
        chat_id: int,
        index: int,
        item: Attachment | Unreadable,
        key: str,
        markup: ReplyMarkup | None,
    ) -> Sent:
        if isinstance(item, Attachment) and 0 in await self._outbound.sent_parts(key):
            return await self._send_file(chat_id, _placeholder(item), key, markup)  # resumes
        try:
            file = await self._file(item)
        except _Unavailable as exc:
            _log_unavailable(index, item, str(exc))
            return await self._note(chat_id, index, item, key, markup)
        sent = await self._send_file(chat_id, file, key, markup)
        if sent.delivery is Delivery.GAVE_UP and sent.error_code != BLOCKED:
            _log_refused(index, item, sent)
            return await self._note(chat_id, index, item, key, markup)
        return sent

    async def _send_file(
        self, chat_id: int, file: FileUpload, key: str, markup: ReplyMarkup | None
    ) -> Sent:
        return await self._outbound.send_file(chat_id, file, key=key, reply_markup=markup)

    async def _album(self, chat_id: int, unit: Unit, key: str, markup: ReplyMarkup | None) -> Sent:
        members = [(unit.first + i, item) for i, item in enumerate(unit.items)]
        if 0 in await self._outbound.sent_parts(key):  # resumes after the album
            files = [_placeholder(item) for _, item in members if isinstance(item, Attachment)]
            return await self._send_album(chat_id, files, key, markup)
        fetched: list[tuple[int, Attachment | Unreadable, FileUpload]] = []
        for index, item in members:
            try:
                fetched.append((index, item, await self._file(item, in_album=True)))
            except _Unavailable as exc:
                _log_unavailable(index, item, str(exc))
                sent = await self._note(chat_id, index, item, f"{key}:n{index}", None)
                if sent.delivery is not Delivery.DELIVERED:
                    return sent
        files = [file for _, _, file in fetched]
        if not files:
            return _DONE if markup is None else await self._markup_only(chat_id, key, markup)
        if len(files) == 1:
            sent = await self._send_file(chat_id, files[0], key, markup)
        else:
            sent = await self._send_album(chat_id, files, key, markup)
        if sent.delivery is not Delivery.GAVE_UP or sent.error_code == BLOCKED:
            return sent
        for index, item, _ in fetched:
            _log_refused(index, item, sent)
            noted = await self._note(chat_id, index, item, f"{key}:n{index}", None)
            if noted.delivery is not Delivery.DELIVERED:
                return noted
        return _DONE if markup is None else await self._markup_only(chat_id, key, markup)

    async def _send_album(
        self, chat_id: int, files: Sequence[FileUpload], key: str, markup: ReplyMarkup | None
    ) -> Sent:
        return await self._outbound.send_album(
            chat_id,
            files,
            key=key,
            reply_markup=markup,
            markup_text=(await self._languages.texts(chat_id)).attachment_buttons,
        )

    async def _markup_only(self, chat_id: int, key: str, markup: ReplyMarkup) -> Sent:
        text = (await self._languages.texts(chat_id)).attachment_buttons
        return await self._outbound.send(
            chat_id, text, key=f"{key}:b", markdown=False, reply_markup=markup
        )

    async def _note(
        self,
        chat_id: int,
        index: int,
        item: Attachment | Unreadable,
        key: str,
        markup: ReplyMarkup | None,
    ) -> Sent:
        name = item.name if isinstance(item, Unreadable) else _name(item)
        texts = await self._languages.texts(chat_id)
        if name:
            text = texts.attachment_failed.format(name=name)
        else:
            text = texts.attachment_failed_unnamed.format(number=index + 1)
        sent = await self._outbound.send(
            chat_id, text, key=key, markdown=False, reply_markup=markup
        )
        if sent.delivery is Delivery.GAVE_UP and sent.error_code != BLOCKED:
            return _DONE  # the note itself refused: nothing more to say
        return sent

    async def _file(self, item: Attachment | Unreadable, *, in_album: bool = False) -> FileUpload:
        """The file's bytes as an upload, or ``_Unavailable``.

        A photo over Telegram's 10 MB goes as a document, except in an album
        (which cannot mix them): there it is unavailable.
        """
        if isinstance(item, Unreadable):
            raise _Unavailable(item.reason)
        mime = item.mime_type
        url_name = None
        if item.data is not None:
            content = _decoded(item.data)
        else:
            assert item.url is not None
            try:
                content, served_type, url_name = await self._outbound.fetch(item.url)
            except FetchError as exc:
                raise _Unavailable(f"{type(exc).__name__}: {exc}") from None
            mime = mime or served_type
        name = item.file_name or url_name or DEFAULT_NAMES[item.kind]
        kind = item.kind
        if kind == "photo" and len(content) > PHOTO_LIMIT:
            if in_album:
                raise _Unavailable(f"a photo over {PHOTO_LIMIT} bytes in an album")
            kind = "document"  # Telegram refuses a photo this big; as a file it goes
        return FileUpload(kind, Upload(name, content, mime), item.caption)


def _decoded(data: str) -> bytes:
    if len(data) > (INLINE_DATA_LIMIT // 3 + 1) * 4 + 64:  # the bound before decoding
        raise _Unavailable(f"data over {INLINE_DATA_LIMIT} bytes")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _Unavailable("data is not base64") from None
    if len(content) > INLINE_DATA_LIMIT:
        raise _Unavailable(f"data over {INLINE_DATA_LIMIT} bytes")
    return content


def _placeholder(item: Attachment) -> FileUpload:
    """The unit's file without its bytes: only its captions are sent (its upload is recorded)."""
    return FileUpload(item.kind, Upload(item.file_name or "", b""), item.caption)


def _name(item: Attachment) -> str | None:
    if item.file_name and item.file_name.strip():
        return item.file_name
    if item.url:
        tail = item.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if tail and "." in tail and len(tail) <= 100:
            return tail
    return None


def _log_unavailable(index: int, item: Attachment | Unreadable, error: str) -> None:
    if isinstance(item, Unreadable):
        return  # logged when the entry was read (``po_attachments_dropped``)
    source = "data" if item.data is not None else "url"
    log.warning("po_attachment_unavailable", index=index, source=source, error=error)


def _log_refused(index: int, item: Attachment | Unreadable, sent: Sent) -> None:
    kind = item.kind if isinstance(item, Attachment) else None
    code = sent.error_code
    log.warning("po_attachment_refused", index=index, kind=kind, error=sent.error, error_code=code)
