"""Files the fake Telegram holds: what users send (and, later, what the bot uploads).

A file gets a ``file_id``, a ``file_unique_id`` and a ``file_path`` as on
Telegram; ``getFile`` and the download route (``/file/bot<token>/<path>``)
serve them. The cloud Bot API serves downloads up to ``download_limit``
bytes (20 MB), and ``getFile`` refuses a bigger file ("file is too big").
Every download served is recorded in ``downloads`` (its ``file_path``), so a
test can tell a file that was fetched from one that never was.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field

from shared.attachments import CLOUD_DOWNLOAD_LIMIT

_SUFFIX = {
    "photo": ".jpg", "voice": ".oga", "audio": ".mp3", "video": ".mp4",
    "video_note": ".mp4", "animation": ".mp4", "document": "",
}  # fmt: skip
_FOLDER = {
    "photo": "photos", "voice": "voice", "audio": "music", "video": "videos",
    "video_note": "video_notes", "animation": "animations", "document": "documents",
}  # fmt: skip


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)


class FileStore:
    """Every file by ``file_id`` and by ``file_path``."""

    def __init__(self, *, download_limit: int = CLOUD_DOWNLOAD_LIMIT) -> None:
        self.download_limit = download_limit
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._numbers = itertools.count(1)
        self.downloads: list[str] = []
        """The ``file_path`` of every download served, in order (HEAD requests left out)."""
        self.cut_downloads_at: int | None = None
        """Set: every download breaks after this many bytes (the connection closed short of
        its ``Content-Length``), as a download from a failing Telegram does."""

    def add(self, content: bytes, *, kind: str, file_name: str | None = None) -> StoredFile:
        number = next(self._numbers)
        suffix = _SUFFIX.get(kind, "")
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        stored = StoredFile(
            # Telegram's ids are URL-safe base64 of about this length.
            file_id=f"AgAC{secrets.token_urlsafe(48)}",
            file_unique_id=f"AQAD{secrets.token_urlsafe(9)}",
            file_path=f"{_FOLDER.get(kind, 'documents')}/file_{number}{suffix}",
            content=content,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def at(self, file_path: str) -> StoredFile | None:
        return self._by_path.get(file_path)
