"""What the fake API keeps: JSON objects, the requests it received, canned answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDictProxy

JSON = dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it. ``headers`` is case-insensitive."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    dropped: bool = False
    """True when the fake was ``down`` and reset the connection instead of answering."""
    body: bytes = b""


@dataclass(frozen=True)
class CannedResponse:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]
