"""The wording of a provisioning result for admins.

Sent as plain text (no parse mode), so server names and error texts are
shown exactly as the provisioner wrote them, `<b>` and `&` included.
"""

from __future__ import annotations

from shared.schemas import ProvisionerResult
from shared.texts import Texts

MAX_ERRORS_SHOWN = 5
MAX_ERROR_CHARS = 300
MAX_DETAILS_CHARS = 1500
UNKNOWN = "—"


def describe(result: ProvisionerResult, texts: Texts) -> str:
    if result.status == "success":
        redeployed = result.services_redeployed
        return texts.provision_success.format(
            handle=result.server_handle,
            ip=result.server_ip or UNKNOWN,
            redeployed=UNKNOWN if redeployed is None else redeployed,
            duration=_duration(result.duration_ms, texts),
        )
    # A status the contract does not list is shown as the provisioner wrote it.
    return texts.provision_failure.format(
        handle=result.server_handle,
        status=texts.provision_status.get(result.status, result.status),
        details=_details(result, texts),
    ).rstrip()


def _duration(duration_ms: float | None, texts: Texts) -> str:
    if duration_ms is None:
        return texts.duration_unknown
    seconds = duration_ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} с"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} мин {rest} с"


def _details(result: ProvisionerResult, texts: Texts) -> str:
    lines = [_cut(result.error, MAX_ERROR_CHARS)] if result.error else []
    errors: list[str] = result.errors or []
    lines += [f"• {_cut(e, MAX_ERROR_CHARS)}" for e in errors[:MAX_ERRORS_SHOWN]]
    if len(errors) > MAX_ERRORS_SHOWN:
        lines.append(texts.provision_errors_more.format(count=len(errors) - MAX_ERRORS_SHOWN))
    return _cut("\n".join(lines), MAX_DETAILS_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
