"""JSON on the wire: the fake's encoder, decoder and JSON answers."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

JSONDict = dict[str, Any]

_json_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    return _json_encoder.encode(value)


def decode(raw: bytes | str) -> Any:
    return msgspec.json.decode(raw)


def json_response(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=encode(body), content_type="application/json")
