"""What the fake POs (every profile) do with files (CONTRACTS.md, "Bot extensions").

A message with ``attachments`` is answered with what the PO got: per file its
kind, name, size and the sha256 (first 12 hex digits) of its first 64 KiB,
FETCHED through its ``url`` as a real PO would. A file marked ``too_large``,
or one whose link fails, is described as such; nothing here raises.

``demo file`` (also ``/demo file``, for a PO reached without the bot, whose
ingress answers unknown slash commands itself) is answered with a line of
text, a small PNG drawn here and a Markdown report, both as base64 ``data``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from typing import Any, Final

import aiohttp
import msgspec

from shared.attachments import Attachment
from shared.log import get_logger

log = get_logger(__name__)

HASHED_BYTES: Final = 64 * 1024
"""How much of each file is fetched and hashed."""
FETCH_TIMEOUT_S: Final = 10.0
DEMO_TRIGGERS: Final = frozenset({"demo file", "/demo file"})
DEMO_TEXT: Final = "Вот картинка и отчёт, как просили."
DEMO_IMAGE_NAME: Final = "demo.png"
DEMO_REPORT_NAME: Final = "report.md"


def is_demo(text: str) -> bool:
    """The message asks for the demo files."""
    return " ".join(text.lower().split()) in DEMO_TRIGGERS


def read_attachments(raw: Any) -> tuple[list[Attachment], int]:
    """The attachments in ``raw`` (the input's ``attachments``: a list, or its JSON text),
    and how many entries could not be read (a PO skips what it does not understand)."""
    if isinstance(raw, str | bytes):
        try:
            raw = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return [], 1
    if raw is None:
        return [], 0
    if not isinstance(raw, list):
        return [], 1
    read: list[Attachment] = []
    for item in raw:
        try:
            read.append(msgspec.convert(item, Attachment))
        except (msgspec.ValidationError, ValueError):
            continue
    return read, len(raw) - len(read)


async def describe(attachments: list[Attachment], caption: str, *, unreadable: int = 0) -> str:
    """The reply to a message with files: one line per file, in order."""
    lines = [f"Получил файлов: {len(attachments)}."]
    if caption:
        lines.append(f"Подпись: «{caption}».")
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for number, attachment in enumerate(attachments, 1):
            lines.append(f"{number}. {await _describe_one(http, attachment)}")
    if unreadable:
        lines.append(f"Не разобрал записей: {unreadable}.")
    return "\n".join(lines)


async def _describe_one(http: aiohttp.ClientSession, attachment: Attachment) -> str:
    name = attachment.file_name or "без имени"
    head = f"{attachment.kind} «{name}»"
    if attachment.too_large:
        return f"{head}, {_size(attachment.size)}: слишком большой, бот его не передаёт (too_large)"
    try:
        async with http.get(attachment.url) as response:
            if response.status != 200:
                return f"{head}: не удалось скачать (HTTP {response.status})"
            first = await _first_bytes(response.content)
            known = attachment.size if attachment.size is not None else response.content_length
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.info("fake_po_fetch_failed", kind=attachment.kind, error=type(exc).__name__)
        return f"{head}: не удалось скачать ({type(exc).__name__})"
    digest = hashlib.sha256(first).hexdigest()[:12]
    return f"{head}, {_size(known)}, sha256 первых {len(first)} байт: {digest}"


async def _first_bytes(content: aiohttp.StreamReader) -> bytes:
    chunks: list[bytes] = []
    left = HASHED_BYTES
    while left > 0:
        chunk = await content.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _size(size: int | None) -> str:
    return "размер неизвестен" if size is None else f"{size} байт"


# --- /demo file ----------------------------------------------------------------------


def demo_attachments() -> list[dict[str, str]]:
    """The demo's files as the output's ``attachments`` (OutgoingAttachment objects as JSON)."""
    return [
        {
            "kind": "photo",
            "data": base64.b64encode(demo_png()).decode(),
            "file_name": DEMO_IMAGE_NAME,
            "mime_type": "image/png",
            "caption": "Картинка, нарисованная фейковым PO",
        },
        {
            "kind": "document",
            "data": base64.b64encode(demo_report()).decode(),
            "file_name": DEMO_REPORT_NAME,
            "mime_type": "text/markdown",
            "caption": "Отчёт",
        },
    ]


def demo_png(width: int = 96, height: int = 64) -> bytes:
    """A small RGB PNG: a blue-green gradient with a white diagonal (no image library)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        for x in range(width):
            on_line = abs(x * height - y * width) < width
            pixel = (255, 255, 255) if on_line else (30, 90 + 120 * y // height, 200 - x)
            rows.extend(pixel)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def demo_report() -> bytes:
    return (
        "# Отчёт фейкового PO\n\n"
        "- Файлы в обе стороны работают.\n"
        "- Картинка пришла отдельным сообщением, отчёт документом.\n\n"
        "Сгенерировано песочницей `telegram-bot sandbox`.\n"
    ).encode()
