"""Files: ``getFile``, the first half of downloading what a user sent.

``getFile`` names a file by its ``file_id`` and answers its ``file_path``,
which the download route (``GET /file/bot<token>/<file_path>``,
:mod:`..server`) serves. As on the cloud Bot API, a file over the fake's
``files.download_limit`` (20 MB) is refused (``file is too big``): it can
be neither located nor downloaded. Unknown and empty ids are
``invalid file_id`` (Telegram's text for an unknown id; for an empty one a
guess in its shape).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import bad_request
from ..params import Params
from .registry import bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram


@bot_method("getFile")
async def get_file(fake: FakeTelegram, params: Params) -> Any:
    stored = fake.files.get(params.string("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > fake.files.download_limit:
        raise bad_request("file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }
