"""Files a known user sends, as the PO gets them: one :class:`Attachment` per message.

A photo (its largest size), document, voice, audio, video, video note or
animation becomes an ``Attachment`` with what Telegram said about it (name,
type, size, dimensions, duration; what Telegram left out stays out; a video
note's diameter is its width and height) and a ``url``: a link to the
``files`` process signed with ``FILES_SIGNING_KEY`` (:mod:`shared.file_links`),
valid ``FILES_LINK_TTL_S`` from when the update was received. The ingress
never downloads anything: the link names the file, and the ``files``
process fetches it from the Bot API only when the PO asks.

A file over the Bot API's download limit (``IngressSettings.files_download_limit``)
is still passed on, marked ``too_large``, and the user is told first
(:meth:`FileLinks.too_large_note`): the PO sees that a file was sent, and
the user knows it did not get through.

A sticker, a location (a venue, a live location), a contact, a poll or a
dice cannot be passed on: :func:`not_passed_on` says which, for an answer
saying what can. The handlers are in ``chat``, with the other chat messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from aiogram.filters import Filter
from aiogram.types import Message, PhotoSize

from services.ingress.batch import valid_unicode
from services.ingress.settings import MB, IngressSettings
from shared import file_links
from shared.attachments import INCOMING_KINDS, Attachment, AttachmentKind
from shared.log import get_logger
from shared.texts import Texts

log = get_logger(__name__)

NOT_PASSED_ON: Final[tuple[tuple[str, str], ...]] = (
    ("sticker", "sticker"),
    # A venue carries its location too; a live location is a location with a period.
    ("venue", "location"),
    ("location", "location"),
    ("contact", "contact"),
    ("poll", "poll"),
    ("dice", "dice"),
)
"""Message field -> the ``Texts.not_passed_on`` answer it gets; anything else gets ``other``."""


class FileLinks:
    """Turns a file a user sent into the PO's :class:`Attachment` (None: files are off)."""

    __slots__ = ("_base_url", "_key", "_ttl_s", "download_limit")

    def __init__(self, base_url: str, key: bytes, *, ttl_s: int, download_limit: int) -> None:
        self._base_url = base_url
        self._key = key
        self._ttl_s = ttl_s
        self.download_limit = download_limit
        """Bytes: a bigger file is ``too_large``."""

    @classmethod
    def from_settings(cls, settings: IngressSettings) -> FileLinks | None:
        """The links ``settings`` allow; None (logged once) without ``FILES_SIGNING_KEY``."""
        key = settings.files_key
        if key is None:
            log.warning("files_disabled", reason="FILES_SIGNING_KEY unset")
            return None
        return cls(
            settings.files_public_url,
            key,
            ttl_s=settings.files_link_ttl_s,
            download_limit=settings.files_download_limit,
        )

    def attachment(self, kind: AttachmentKind, media: Any, received_at: str) -> Attachment:
        """``media`` (one of the message's file objects) as the PO gets it.

        ``received_at``: the batch's ISO time; the link expires ``FILES_LINK_TTL_S`` after.
        ``ValueError`` when its ``file_id`` is not a Telegram file id.
        """
        received = datetime.fromisoformat(received_at).timestamp()
        expires_at = int(received) + self._ttl_s
        url = file_links.link(self._base_url, self._key, media.file_id, expires_at=expires_at)
        size = getattr(media, "file_size", None)
        width = getattr(media, "width", None)
        height = getattr(media, "height", None)
        if kind == "video_note":
            # Round: Telegram gives its diameter as ``length``.
            width = height = getattr(media, "length", None)
        return Attachment(
            kind=kind,
            url=url,
            file_name=_text_or_none(getattr(media, "file_name", None)),
            mime_type=_text_or_none(getattr(media, "mime_type", None)),
            size=size,
            width=width,
            height=height,
            duration=getattr(media, "duration", None),
            too_large=size is not None and size > self.download_limit,
        )

    def too_large_note(self, attachment: Attachment, texts: Texts) -> str:
        """What the user is told about a ``too_large`` attachment."""
        if attachment.file_name:
            name = texts.file_named.format(file_name=attachment.file_name)
        else:
            name = texts.attachment_names.get(attachment.kind, attachment.kind)
        return texts.file_too_large.format(name=name, limit=self.download_limit // MB)


class HasFile(Filter):
    """A message carrying a file the PO can get; gives ``file``: ``(kind, media)``.

    For a photo, ``media`` is its largest size (Telegram lists them smallest first;
    the largest by area is taken, whatever the order).
    """

    async def __call__(self, message: Message) -> bool | dict[str, Any]:
        for kind in INCOMING_KINDS:
            media = getattr(message, kind)
            if media:
                if kind == "photo":
                    media = max(media, key=_area)
                return {"file": (kind, media)}
        return False


def _text_or_none(value: str | None) -> str | None:
    return valid_unicode(value) if value is not None else None


def _area(size: PhotoSize) -> tuple[int, int]:
    return size.width * size.height, size.file_size or 0


def not_passed_on(message: Message) -> str:
    """Which ``Texts.not_passed_on`` answer a message without text or file gets."""
    for field, answer in NOT_PASSED_ON:
        if getattr(message, field, None) is not None:
            return answer
    return "other"
