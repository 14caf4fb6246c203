"""The fake's web app: the Bot API at ``/bot<token>/<method>``, routed to the methods.

A call is recorded from the moment it arrives; a scripted failure, if one
matches, answers instead of (or before) the method's handler. Files are
downloaded at ``/file/bot<token>/<file_path>`` (the path ``getFile`` gave),
streamed in chunks as Telegram's file server does; a wrong token or an
unknown path is Telegram's JSON 404.
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
from aiohttp import web

from shared.attachments import UPLOAD_LIMIT

from .control import ControlApi, control_errors
from .errors import ApiError, bad_request, not_found
from .failures import NGINX_502, Failure, failure_error
from .methods import MethodSpec
from .params import Params, UploadedFile
from .records import Call
from .wire import JSONDict, decode, json_response

if TYPE_CHECKING:
    from .fake import FakeTelegram

MAX_REQUEST_BYTES = UPLOAD_LIMIT + 1024 * 1024
"""A request body over this (Telegram's 50 MB upload limit, plus the form around it): 413."""


def make_app(fake: FakeTelegram, routes: Sequence[web.AbstractRouteDef]) -> web.Application:
    """The Bot API, the control API, then ``routes``, then a Bot API style 404."""

    async def bot_api(request: web.Request) -> web.StreamResponse:
        return await _answer(fake, request)

    async def download(request: web.Request) -> web.StreamResponse:
        return await _download(fake, request)

    app = web.Application(middlewares=[control_errors], client_max_size=MAX_REQUEST_BYTES)
    app.router.add_route("*", "/bot{token}/{method}", bot_api)
    app.router.add_get("/file/bot{token}/{file_path:.+}", download)
    app.router.add_routes(ControlApi(fake).routes())
    app.router.add_routes(routes)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


async def _answer(fake: FakeTelegram, request: web.Request) -> web.StreamResponse:
    name = request.match_info["method"]
    call = fake.begin_call(name, {}, "http")
    try:
        if request.match_info["token"] != fake.token:
            raise ApiError(401, "Unauthorized")
        spec = fake.methods.get(name.lower())
        if spec is None:
            raise not_found()
        call.method = spec.name
        params = await _read_params(request)
        call.params = params.decoded
        failure = fake.failures.take(spec.name, params)
        if failure is not None:
            early = await _apply_failure(fake, failure, request, call, spec, params)
            if early is not None:
                return early
        status, body = await _run(fake, spec, params, call)
    except ApiError as exc:
        status, body = exc.status, exc.body()
    fake.finish_call(call, status, body)
    return json_response(status, body)


async def _run(
    fake: FakeTelegram, spec: MethodSpec, params: Params, call: Call
) -> tuple[int, JSONDict]:
    with contextlib.suppress(ApiError):
        call.chat_id = params.chat_id() if params.has("chat_id") else None
    try:
        result = await spec.handler(fake, params)
    except ApiError as exc:
        return exc.status, exc.body()
    return 200, {"ok": True, "result": result}


async def execute(fake: FakeTelegram, name: str, params: Params, *, source: str) -> Call:
    """Run a method outside an HTTP request (webhook replies); recorded like one."""
    call = fake.begin_call(name, params.decoded, source)
    spec = fake.methods.get(name.lower())
    if spec is None:
        status, body = 404, not_found().body()
    else:
        call.method = spec.name
        status, body = await _run(fake, spec, params, call)
    fake.finish_call(call, status, body)
    return call


async def _apply_failure(
    fake: FakeTelegram,
    failure: Failure,
    request: web.Request,
    call: Call,
    spec: MethodSpec,
    params: Params,
) -> web.StreamResponse | None:
    """Answer a scripted failure; None means "now handle the call normally"."""
    if failure.kind == "slow":
        await fake.sleep(failure.delay)
        return None
    if failure.kind == "drop":
        if failure.after_processing:
            _status, call.body = await _run(fake, spec, params, call)  # never delivered
        fake.finish_call(call, None, call.body)
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=204)  # never reaches the client
    if failure.kind == "server_error" and failure.html:
        fake.finish_call(call, failure.status, NGINX_502)
        return web.Response(status=failure.status, text=NGINX_502, content_type="text/html")
    raise failure_error(failure)


async def _read_params(request: web.Request) -> Params:
    """Query string plus a JSON, urlencoded or multipart body, as Telegram accepts."""
    params: JSONDict = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if not request.body_exists:
        return Params(params)
    if request.content_type == "application/json":
        try:
            body = decode(await request.read())
        except msgspec.DecodeError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        for key, value in form.items():
            if isinstance(value, web.FileField):
                content = value.file.read()
                files[key] = UploadedFile(value.filename, value.content_type, content)
                params[key] = {"filename": value.filename, "content_type": value.content_type,
                               "size": len(content)}  # fmt: skip
            else:
                params[key] = value
    return Params(params, files)


DOWNLOAD_CHUNK = 64 * 1024


async def _download(fake: FakeTelegram, request: web.Request) -> web.StreamResponse:
    """A file's bytes, in chunks, with its length and a type guessed from its path."""
    stored = fake.files.at(request.match_info["file_path"])
    if request.match_info["token"] != fake.token or stored is None:
        return json_response(404, not_found().body())
    content_type, _encoding = mimetypes.guess_type(stored.file_path)
    response = web.StreamResponse(
        headers={"Content-Type": content_type or "application/octet-stream"}
    )
    response.content_length = stored.size
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    view = memoryview(stored.content)
    cut = fake.files.cut_downloads_at
    end = len(view) if cut is None else min(cut, len(view))
    for start in range(0, end, DOWNLOAD_CHUNK):
        await response.write(view[start : min(start + DOWNLOAD_CHUNK, end)])
    if end < len(view):
        if request.transport is not None:
            request.transport.close()  # short of Content-Length: the client sees it cut
        return response
    await response.write_eof()
    fake.files.downloads.append(stored.file_path)
    fake.notify()
    return response


async def _not_found(request: web.Request) -> web.StreamResponse:
    return json_response(404, not_found().body())
