"""The wording of a provisioning result for admins.

Sent as plain text (no parse mode), so server names and error texts are
shown exactly as the provisioner wrote them, `<b>` and `&` included.

Every free-text value is cut, so one result is always one Telegram message
(at most 4,096 UTF-16 units; here at most about 1,800 characters, 3,600
units even if every one were an emoji): the server's name, IP and an
unknown status at ``MAX_FIELD_CHARS``; each error at ``MAX_ERROR_CHARS``,
at most ``MAX_ERRORS_SHOWN`` of the list, all error lines together at
``MAX_DETAILS_CHARS``; then "…и ещё N" for the errors not shown, which no
cut removes.
"""

from __future__ import annotations

from shared.schemas import ProvisionerResult
from shared.texts import Texts

MAX_FIELD_CHARS = 100
MAX_ERRORS_SHOWN = 5
MAX_ERROR_CHARS = 300
MAX_DETAILS_CHARS = 1500
"""The error lines together (``error`` and the errors shown), before the count of the rest."""
UNKNOWN = "—"


def describe(result: ProvisionerResult, texts: Texts) -> str:
    handle = _cut(result.server_handle, MAX_FIELD_CHARS)
    if result.status == "success":
        redeployed = result.services_redeployed
        return texts.provision_success.format(
            handle=handle,
            ip=_cut(result.server_ip, MAX_FIELD_CHARS) if result.server_ip else UNKNOWN,
            redeployed=UNKNOWN if redeployed is None else redeployed,
            duration=_duration(result.duration_ms, texts),
        )
    # A status the contract does not list is shown as the provisioner wrote it.
    status = texts.provision_status.get(result.status) or _cut(result.status, MAX_FIELD_CHARS)
    return texts.provision_failure.format(
        handle=handle, status=status, details=_details(result, texts)
    ).rstrip()


def _duration(duration_ms: float | None, texts: Texts) -> str:
    if duration_ms is None:
        return texts.duration_unknown
    seconds = duration_ms / 1000
    if seconds < 60:
        return texts.duration_seconds.format(seconds=f"{seconds:.1f}")
    minutes, rest = divmod(round(seconds), 60)
    return texts.duration_minutes_seconds.format(minutes=minutes, seconds=rest)


def _details(result: ProvisionerResult, texts: Texts) -> str:
    lines = [_cut(result.error, MAX_ERROR_CHARS)] if result.error else []
    errors: list[str] = result.errors or []
    lines += [f"• {_cut(e, MAX_ERROR_CHARS)}" for e in errors[:MAX_ERRORS_SHOWN]]
    details = _cut("\n".join(lines), MAX_DETAILS_CHARS)
    if len(errors) > MAX_ERRORS_SHOWN:
        more = texts.provision_errors_more.format(count=len(errors) - MAX_ERRORS_SHOWN)
        details = f"{details}\n{more}" if details else more
    return details


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
