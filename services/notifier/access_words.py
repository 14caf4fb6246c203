"""The wording of access requests: the admins' cards, their outcome line, the stranger's notice.

Everything is sent as plain text (no parse mode), so a first name such as
``<a href="…">x</a>`` or ``*bold*`` reads exactly as the stranger typed it:
no formatting, no link and no markup can come through a name or the first
message. Every free-text field is cut, so a card is always one Telegram
message; times are shown in UTC, and say so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from shared.access.records import (
    APPROVE_PREFIX,
    DENY_PREFIX,
    FIRST_MESSAGE_CHARS,
    AccessRequest,
    Decision,
)
from shared.texts import Texts

NAME_CHARS: Final = 100
"""Each of the name's parts, the username and the language, at most (Telegram allows 64)."""


def card_text(request: AccessRequest, texts: Texts) -> str:
    """The card every admin gets about ``request`` (without its outcome line)."""
    none = texts.access_card_none
    name = " ".join(
        part for part in (_cut(request.first_name), _cut(request.last_name)) if part.strip()
    )
    username = _cut(request.username.lstrip("@"))
    first_message = request.first_message.strip()
    if len(first_message) > FIRST_MESSAGE_CHARS:
        first_message = first_message[: FIRST_MESSAGE_CHARS - 1].rstrip() + "…"
    return texts.access_card.format(
        name=name or none,
        username=f"@{username}" if username else none,
        telegram_id=request.telegram_id,
        language=_cut(request.language) or none,
        requested=moment(request.created_ms, texts.access_card_time),
        first_message=first_message or none,
    )


def outcome_line(
    decision: Decision, decided_by: int, decided_by_name: str, decided_ms: int, texts: Texts
) -> str:
    """``✅ Одобрено: Ада, 14:02`` (UTC) and the like; expiry names nobody."""
    if decision == "expired":
        return texts.access_card_expired
    wording = texts.access_card_approved if decision == "approved" else texts.access_card_denied
    name = _cut(decided_by_name.strip()) or str(decided_by)
    return wording.format(name=name, time=moment(decided_ms, texts.access_decision_time))


def decided_card(
    request: AccessRequest | None,
    decision: Decision,
    decided_by: int,
    decided_by_name: str,
    decided_ms: int,
    texts: Texts,
) -> str:
    """A card once decided: the card, then its outcome line (the line alone if the
    request's record is gone)."""
    line = outcome_line(decision, decided_by, decided_by_name, decided_ms, texts)
    return line if request is None else f"{card_text(request, texts)}\n\n{line}"


def card_buttons(rid: str, texts: Texts) -> dict[str, Any]:
    """ "✅ Одобрить" / "❌ Отклонить": button data carries the request id, never a user's."""
    return {
        "inline_keyboard": [
            [
                {"text": texts.access_card_approve, "callback_data": f"{APPROVE_PREFIX}{rid}"},
                {"text": texts.access_card_deny, "callback_data": f"{DENY_PREFIX}{rid}"},
            ]
        ]
    }


def stranger_notice(decision: Decision, texts: Texts) -> str:
    if decision == "approved":
        return texts.access_granted_notice
    if decision == "denied":
        return texts.access_denied_notice
    return texts.access_expired_notice


def moment(ms: int, form: str) -> str:
    """A time in ms since the epoch in ``form`` (``strftime`` codes), in UTC."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(form)


def _cut(text: str, limit: int = NAME_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
