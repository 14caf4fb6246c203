"""The wording of a provisioning result, for admins (plain text)."""

from __future__ import annotations

from shared.schemas import ProvisionerResult
from shared.texts import Texts

MAX_ERRORS_SHOWN = 5
MAX_DETAIL_CHARS = 1500


def describe(result: ProvisionerResult, texts: Texts) -> str:
    if result.status == "success":
        return texts.provision_success.format(
            handle=result.server_handle,
            ip=result.server_ip or "—",
            redeployed=result.services_redeployed,
            duration=_duration(result.duration_ms, texts),
        )
    return texts.provision_failure.format(
        handle=result.server_handle,
        status=texts.provision_status.get(result.status, result.status),
        details=_details(result, texts),
    )


def _duration(duration_ms: int | None, texts: Texts) -> str:
    if duration_ms is None:
        return texts.duration_unknown
    seconds = duration_ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} с"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} мин {rest} с"


def _details(result: ProvisionerResult, texts: Texts) -> str:
    lines = [result.error] if result.error else []
    errors = result.errors or []
    lines += [f"• {e}" for e in errors[:MAX_ERRORS_SHOWN]]
    if len(errors) > MAX_ERRORS_SHOWN:
        lines.append(texts.provision_errors_more.format(count=len(errors) - MAX_ERRORS_SHOWN))
    text = "\n".join(lines)
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"
