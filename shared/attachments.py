"""Files on the PO wire, both ways (``../shared/CONTRACTS.md``, "Bot extensions").

In (user -> PO): each :class:`Attachment` names a file the user sent by a
signed, expiring ``url`` on the ``files`` process (:mod:`shared.file_links`),
so the PO fetches it without the bot's token. Out (PO -> user): each
:class:`OutgoingAttachment` brings its bytes as ``data`` (base64) or a
``url`` the bot downloads, and is sent with the method its ``kind`` names.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

AttachmentKind = Literal["photo", "document", "voice", "audio", "video", "video_note", "animation"]
OutgoingKind = Literal["photo", "document", "audio", "voice", "video", "animation"]

INCOMING_KINDS: Final[tuple[AttachmentKind, ...]] = (
    "photo", "document", "voice", "audio", "video", "video_note", "animation",
)  # fmt: skip
"""The message fields, in the order they are looked for, that carry a file the PO gets."""

CLOUD_DOWNLOAD_LIMIT: Final = 20 * 1024 * 1024
"""``getFile`` on the cloud Bot API serves files up to 20 MB."""
LOCAL_DOWNLOAD_LIMIT: Final = 2000 * 1024 * 1024
"""A self-hosted Bot API server (``--local``) serves files up to 2,000 MB."""
UPLOAD_LIMIT: Final = 50 * 1024 * 1024
"""The Bot API's upload limit for a file sent by the bot (multipart)."""
INLINE_DATA_LIMIT: Final = 10 * 1024 * 1024
"""``data`` (base64) in a PO's attachment: at most this many bytes once decoded."""
CAPTION_LIMIT: Final = 1024
"""Telegram's caption limit (UTF-16 code units); a longer caption goes as text after the file."""
MEDIA_GROUP_MIN: Final = 2
MEDIA_GROUP_MAX: Final = 10


class Attachment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A file a user sent, as the PO gets it; fields Telegram did not give are omitted."""

    kind: AttachmentKind
    url: str
    """A signed link the PO can GET without any Telegram token (``files`` process)."""
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    too_large: bool = False
    """Over the Bot API's download limit: the link cannot serve it (the user was told)."""


class OutgoingAttachment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A file a PO sends the user: ``url`` (downloaded by the bot) or ``data`` (base64)."""

    kind: OutgoingKind
    url: str | None = None
    data: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    caption: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise ValueError("an attachment needs exactly one of url and data")


attachments_decoder: Final = msgspec.json.Decoder(list[Attachment])
outgoing_decoder: Final = msgspec.json.Decoder(list[OutgoingAttachment])
