"""The control API under ``/_fake``: drive the fake and read it over HTTP.

JSON in, ``{"ok": true, "result": ...}`` out; the sandbox's web page and
out-of-process tests use it where Python tests call the fake directly.

GET  /_fake                              state summary (set_my_commands: calls that set a menu)
GET  /_fake/calls?method=&since=SEQ      recorded calls
GET  /_fake/chats                        known chats
GET  /_fake/chats/{id}                   one chat: messages, drafts, actions
POST /_fake/chats/{id}/messages          {"text", "user_id"?} user writes (at most 4096 UTF-16
                                         units, as a Telegram client sends: longer is a 400)
POST /_fake/chats/{id}/media             multipart: "file" (its name and type kept), "caption"?,
                                         "user_id"?, "kind"? (default: photo for a JPEG, PNG or
                                         WebP image, else document), "media_group_id"? (an album),
                                         "width"?, "height"? (a photo's or video's, in pixels)
                                         user sends a file (``inject_media``)
GET  /_fake/files/{file_id}              a stored file's bytes (what users sent, what the bot
                                         uploaded): images inline, other files as downloads
POST /_fake/chats/{id}/edits             {"message_id", "text"} user edits
POST /_fake/chats/{id}/callbacks         {"button": label | "data": raw, "message_id"?, "user_id"?}
                                         user presses a button: "button" only one the message
                                         shows now (404 if none); "data" anything (a forgery)
POST /_fake/chats/{id}/block             {"blocked": true|false}
POST /_fake/chats/{id}/reactions         {"enabled": true|false} chat admins allow reactions
POST /_fake/chats/{id}/drafts/{draft_id}/stop
                                         user presses a draft's stop button: the bot gets a
                                         stopped_message_generation update; 404 if the draft
                                         does not show now, 400 if it has no stop button
GET  /_fake/commands                     command menus: scope, language_code, commands,
                                         set_count (successful setMyCommands for that menu)
POST /_fake/updates                      a raw update (update_id assigned)
POST /_fake/failures                     {"method", "kind", "times"?, "chat_id"?, ...}
DELETE /_fake/failures                   forget scripted failures
POST /_fake/flood                        FloodLimits fields, or {"off": true}
GET  /_fake/wait?after=VERSION&timeout=S wait for any change (for a web page)
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import BodyPartReader, web

from .entities import found_entities, utf16_len
from .errors import ApiError
from .failures import Failure
from .flood import FloodLimits
from .updates import _command_entities
from .wire import JSONDict, decode, json_response

if TYPE_CHECKING:
    from .fake import FakeTelegram

CONTROL_PREFIX = "/_fake"
MEDIA_KINDS: Final = frozenset(
    {"photo", "document", "voice", "audio", "video", "video_note", "animation"}
)
PHOTO_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp"})
"""What a Telegram client sends as a photo (compressed) rather than as a file."""
MAX_USER_FILE: Final = 64 * 1024 * 1024
"""The largest file the control API takes: past the cloud Bot API's 20 MB download limit,
to try a file the bot cannot fetch, without holding gigabytes in memory."""
CAPTION_LIMIT: Final = 1024
TEXT_LIMIT: Final = 4096


class ControlApi:
    """The control API's handlers, acting on one fake."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route(method, CONTROL_PREFIX + path, handler)
            for method, path, handler in [
                ("GET", "", self.state),
                ("GET", "/calls", self.calls),
                ("GET", "/chats", self.chats),
                ("GET", "/chats/{chat_id}", self.chat),
                ("POST", "/chats/{chat_id}/messages", self.message),
                ("POST", "/chats/{chat_id}/media", self.media),
                ("GET", "/files/{file_id}", self.file),
                ("POST", "/chats/{chat_id}/edits", self.edit),
                ("POST", "/chats/{chat_id}/callbacks", self.callback),
                ("POST", "/chats/{chat_id}/block", self.block),
                ("POST", "/chats/{chat_id}/reactions", self.reactions),
                ("POST", "/chats/{chat_id}/drafts/{draft_id}/stop", self.stop_draft),
                ("GET", "/commands", self.commands),
                ("POST", "/updates", self.update),
                ("POST", "/failures", self.add_failure),
                ("DELETE", "/failures", self.clear_failures),
                ("POST", "/flood", self.flood),
                ("GET", "/wait", self.wait),
            ]
        ]

    async def state(self, request: web.Request) -> web.StreamResponse:
        return _ok(
            {
                "token": self.fake.token,
                "bot": self.fake.bot_user,
                "version": self.fake.version,
                "webhook": self.fake.webhook,
                "pending_updates": len(self.fake.pending_updates),
                "calls": len(self.fake.calls),
                "throttled": len(self.fake.throttled),
                "flood_limits": self.fake.flood.limits,
                "set_my_commands": self.fake.commands_set.total(),
            }
        )

    async def calls(self, request: web.Request) -> web.StreamResponse:
        method = request.query.get("method")
        since = int(request.query.get("since", "0"))
        calls = self.fake.calls_to(method) if method else self.fake.calls
        return _ok([c for c in calls if c.seq > since])

    async def chats(self, request: web.Request) -> web.StreamResponse:
        return _ok([{**c.info, "blocked": c.blocked} for c in self.fake.chats.values()])

    async def chat(self, request: web.Request) -> web.StreamResponse:
        return _ok(self.fake.chat(_chat_id_of(request)).to_json())

    async def message(self, request: web.Request) -> web.StreamResponse:
        data = await _json_body(request)
        text = str(data["text"])
        if utf16_len(text) > TEXT_LIMIT:
            # A client splits a longer text into several messages (the sandbox page does).
            raise ValueError(f"a message holds at most {TEXT_LIMIT} characters: split it")
        # A client's message comes with the links Telegram finds in it, as a bot's does.
        entities = found_entities(text, _command_entities(text))
        update = self.fake.inject_message(
            _chat_id_of(request), text, user_id=data.get("user_id"), entities=entities
        )
        return _ok(update)

    async def media(self, request: web.Request) -> web.StreamResponse:
        """A user sends a file, as a Telegram client uploads one: multipart form data."""
        form = await _media_form(request)
        content = form.pop("file", None)
        if not isinstance(content, bytes):
            raise ValueError('a "file" part is required')
        if not content:
            raise ValueError("the file is empty (Telegram refuses empty files)")
        mime_type = form.get("mime_type") or None
        kind = form.get("kind") or ("photo" if mime_type in PHOTO_TYPES else "document")
        if kind not in MEDIA_KINDS:
            raise ValueError(f"kind must be one of {sorted(MEDIA_KINDS)}")
        caption = form.get("caption") or None
        if caption is not None and utf16_len(caption) > CAPTION_LIMIT:
            raise ValueError(f"a caption holds at most {CAPTION_LIMIT} characters")
        user_id = form.get("user_id")
        size = {name: int(form[name]) for name in ("width", "height") if form.get(name)}
        if any(value <= 0 for value in size.values()):
            raise ValueError("width and height are positive")
        update = self.fake.inject_media(
            _chat_id_of(request),
            kind,
            content,
            caption=caption,
            file_name=form.get("file_name") or None,
            mime_type=mime_type,
            media_group_id=form.get("media_group_id") or None,
            user_id=int(user_id) if user_id else None,
            **size,
        )
        return _ok(update)

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.fake.files.get(request.match_info["file_id"])
        if stored is None:
            return _error(404, KeyError("no such file"))
        content_type = mimetypes.guess_type(stored.file_path)[0] or "application/octet-stream"
        name = stored.file_path.rsplit("/", 1)[-1]
        shown = "inline" if content_type.startswith("image/") else "attachment"
        headers = {
            "Content-Disposition": f'{shown}; filename="{name}"',
            "Cache-Control": "private, max-age=86400, immutable",  # a file id never changes
            "X-Content-Type-Options": "nosniff",
        }
        return web.Response(body=stored.content, content_type=content_type, headers=headers)

    async def edit(self, request: web.Request) -> web.StreamResponse:
        data = await _json_body(request)
        update = self.fake.inject_edited_message(
            _chat_id_of(request), int(data["message_id"]), str(data["text"])
        )
        return _ok(update)

    async def callback(self, request: web.Request) -> web.StreamResponse:
        data = await _json_body(request)
        chat_id = _chat_id_of(request)
        who = {"message_id": data.get("message_id"), "user_id": data.get("user_id")}
        if "button" not in data:  # raw data: what no client could send (a forgery)
            return _ok(self.fake.inject_callback_query(chat_id, str(data["data"]), **who))
        try:
            return _ok(self.fake.press_button(chat_id, str(data["button"]), **who))
        except KeyError as exc:
            return _error(404, exc)

    async def reactions(self, request: web.Request) -> web.StreamResponse:
        data = await _json_body(request)
        self.fake.set_reactions_enabled(_chat_id_of(request), bool(data["enabled"]))
        return _ok(True)

    async def stop_draft(self, request: web.Request) -> web.StreamResponse:
        draft_id = int(request.match_info["draft_id"])
        try:
            return _ok(self.fake.stop_draft(_chat_id_of(request), draft_id))
        except LookupError as exc:
            return _error(404, exc)

    async def commands(self, request: web.Request) -> web.StreamResponse:
        counts = self.fake.commands_set
        return _ok(
            [
                {
                    "scope": decode(scope),
                    "language_code": language,
                    "commands": self.fake.commands.get((scope, language), []),
                    "set_count": counts[(scope, language)],
                }
                for scope, language in sorted(set(self.fake.commands) | set(counts))
            ]
        )

    async def block(self, request: web.Request) -> web.StreamResponse:
        data = await _json_body(request)
        self.fake.block(_chat_id_of(request), bool(data.get("blocked", True)))
        return _ok(True)

    async def update(self, request: web.Request) -> web.StreamResponse:
        return _ok(self.fake.inject_update(await _json_body(request)))

    async def add_failure(self, request: web.Request) -> web.StreamResponse:
        data = await _json_body(request)
        method = str(data.pop("method"))
        times = int(data.pop("times", 1))
        chat_id = data.pop("chat_id", None)
        self.fake.fail_next(method, Failure.from_json(data), times=times, chat_id=chat_id)
        return _ok(True)

    async def clear_failures(self, request: web.Request) -> web.StreamResponse:
        self.fake.clear_failures()
        return _ok(True)

    async def flood(self, request: web.Request) -> web.StreamResponse:
        data = await _json_body(request)
        limits = FloodLimits.off() if data.pop("off", False) else msgspec.convert(data, FloodLimits)
        self.fake.set_flood_limits(limits)
        return _ok(limits)

    async def wait(self, request: web.Request) -> web.StreamResponse:
        after = int(request.query.get("after", str(self.fake.version)))
        timeout = min(float(request.query.get("timeout", "25")), 60.0)
        with contextlib.suppress(TimeoutError):
            await self.fake.wait_for(
                lambda: self.fake.version > after or self.fake.stopping, timeout
            )
        return _ok({"version": self.fake.version})


@web.middleware
async def control_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bad control API input answers 400 with the reason instead of a 500."""
    if not request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except (KeyError, ValueError, TypeError, msgspec.ValidationError, ApiError) as exc:
        return _error(400, exc)


def _ok(result: Any) -> web.Response:
    return json_response(200, {"ok": True, "result": result})


def _error(status: int, exc: Exception) -> web.Response:
    return json_response(status, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})


async def _json_body(request: web.Request) -> JSONDict:
    try:
        data = decode(await request.read())
    except msgspec.DecodeError:
        raise web.HTTPBadRequest(text="body must be a JSON object") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


async def _media_form(request: web.Request) -> dict[str, Any]:
    """The upload's fields: ``file`` as bytes (at most ``MAX_USER_FILE``), with the part's
    ``file_name`` and ``mime_type``; every other part as text."""
    if not request.content_type.startswith("multipart/"):
        raise ValueError("send the file as multipart/form-data")
    form: dict[str, Any] = {}
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.name != "file":
            form[part.name] = await part.text()
            continue
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk():
            size += len(chunk)
            if size > MAX_USER_FILE:
                raise ValueError(f"the control API takes files up to {MAX_USER_FILE} bytes")
            chunks.append(chunk)
        form["file"] = b"".join(chunks)
        form.setdefault("file_name", part.filename)
        form.setdefault("mime_type", part.headers.get("Content-Type"))
    return form


def _chat_id_of(request: web.Request) -> int:
    try:
        return int(request.match_info["chat_id"])
    except ValueError:
        raise web.HTTPBadRequest(text="chat id must be an integer") from None
