"""Text cleaned as Telegram will show it, and escaped for Telegram HTML.

Telegram replaces control characters, deletes a few others and cannot take a
lone surrogate; we do the same first, so that what we count is what Telegram
shows (the rules: ``docs/ARCHITECTURE.md``, "Formatting replies").
"""

from __future__ import annotations

import re

__all__ = ["clean", "escape", "escape_cleaned"]

_SURROGATE = re.compile("[\ud800-\udfff]")
# CSI ("ESC[31m") and terminated OSC sequences; a bare ESC is dropped with the controls.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\))")
_NEWLINES = re.compile(r"\r\n?")
# Control characters, and what Telegram deletes from every message text.
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028-\u202e\u030a\u0333\u033f]")


def clean(text: str) -> str:
    """``text`` as Telegram will show it: newlines unified, noise and deleted characters gone."""
    if _SURROGATE.search(text):
        # Joins well-formed pairs into one code point; a lone half becomes U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _ANSI.sub("", text)
    text = _NEWLINES.sub("\n", text)
    return _DROPPED.sub("", text)


def escape_cleaned(text: str, *, quote: bool = False) -> str:
    """Already cleaned ``text`` escaped for Telegram HTML (``quote``: as an attribute value)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


def escape(text: str, *, quote: bool = True) -> str:
    """``text`` made safe inside Telegram HTML, as text or (``quote``) an attribute value.

    Escapes ``&``, ``<``, ``>`` and, with ``quote``, ``"``; also cleans the
    text (:func:`clean`), so a lone surrogate cannot break the request and
    lengths counted later are what Telegram shows.
    """
    return escape_cleaned(clean(text), quote=quote)
