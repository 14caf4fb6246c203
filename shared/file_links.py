"""Signed, expiring links to one Telegram file: what a PO gets in ``attachments[].url``.

The ``files`` process (issue 16) serves ``/files/{file_id}?exp=…&sig=…``
and streams the file from the Bot API only when :func:`verify` accepts the
link: an HMAC-SHA256 (``FILES_SIGNING_KEY``) over the file id and the
expiry, compared in constant time, and the expiry not passed. The link
names the file it was made for, so it opens that file and no other; the
bot's token is never in it. Anything else (a changed byte, another file's
id, a late or missing expiry) is refused the same way: 403, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Final
from urllib.parse import quote

MIN_KEY_BYTES: Final = 32
"""A shorter signing key could be guessed; the setting refuses one."""
PATH_PREFIX: Final = "/files/"
_FILE_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
"""Telegram's file ids: URL-safe base64 text; anything else is not one."""


def signature(key: bytes, file_id: str, expires_at: int) -> str:
    """The link's ``sig``: HMAC-SHA256 of the file id and the expiry, URL-safe base64."""
    digest = hmac.new(key, f"{file_id}\n{expires_at}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link(base_url: str, key: bytes, file_id: str, *, expires_at: int) -> str:
    """The URL a PO fetches the file at (``base_url``: ``FILES_PUBLIC_URL``)."""
    if not _FILE_ID.fullmatch(file_id):
        raise ValueError("not a Telegram file id")
    sig = signature(key, file_id, expires_at)
    return f"{base_url.rstrip('/')}{PATH_PREFIX}{quote(file_id)}?exp={expires_at}&sig={sig}"


def verify(key: bytes, file_id: str, expires: str | None, sig: str | None, *, now: float) -> bool:
    """Whether a request for ``file_id`` carries a valid, unexpired link made for it."""
    if not _FILE_ID.fullmatch(file_id) or expires is None or sig is None:
        return False
    if not expires.isdigit() or len(expires) > 12:
        return False
    expected = signature(key, file_id, int(expires))
    # Constant time over the whole signature, then the expiry: a forger learns nothing
    # from how long a refusal took.
    valid = hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace"))
    return valid and now <= int(expires)
