"""A Bot API call's parameters, read as Telegram reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from .errors import bad_request
from .wire import JSONDict, decode


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart call (``raw`` shows its name, type and size instead)."""

    filename: str | None
    content_type: str | None
    content: bytes = field(repr=False)


class Params:
    """A call's parameters: strings from forms, typed values from JSON; both accepted.

    Typed reads are remembered in ``decoded`` so the call record shows them.
    ``files``: the multipart form's file parts by field name (uploads).
    """

    def __init__(self, raw: JSONDict, files: dict[str, UploadedFile] | None = None) -> None:
        self.raw = raw
        self.decoded: JSONDict = dict(raw)
        self.files: dict[str, UploadedFile] = files or {}

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        return None if value is None else str(value)

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Integer') from None
        self.decoded[name] = number
        return number

    def number(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Float') from None

    def boolean(self, name: str) -> bool:
        value = self.raw.get(name)
        result = value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
        if value is not None:
            self.decoded[name] = result
        return result

    def json(self, name: str) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                value = decode(value)
            except msgspec.DecodeError:
                raise bad_request(f"can't parse {name} JSON object") from None
        if value is not None:
            self.decoded[name] = value
        return value

    def chat_id(self) -> int:
        value = self.raw.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            # "@channelusername": the fake knows no public usernames.
            raise bad_request("chat not found") from None
        if chat_id == 0:
            raise bad_request("chat not found")
        self.decoded["chat_id"] = chat_id
        return chat_id
