"""How a provisioning result reads to an admin."""

from __future__ import annotations

from services.fakes.telegram import utf16_len
from services.notifier.messages import MAX_ERRORS_SHOWN, describe
from shared.formatting.splitting import MAX_UTF16, plain_parts
from shared.schemas import ProvisionerResult
from shared.texts import RU


def test_success_names_the_server_its_ip_the_services_and_the_duration() -> None:
    result = ProvisionerResult(
        server_handle="srv-1",
        status="success",
        server_ip="203.0.113.5",
        services_redeployed=3,
        duration_ms=84_500,
    )
    assert describe(result, RU) == (
        "✅ Сервер srv-1 настроен\nIP: 203.0.113.5\nПерезапущено сервисов: 3\n"
        "Длительность: 1 мин 24 с"
    )


def test_a_short_duration_reads_in_seconds_and_a_missing_one_as_unknown() -> None:
    fast = ProvisionerResult(server_handle="s", status="success", duration_ms=1234)
    unknown = ProvisionerResult(server_handle="s", status="success")
    assert describe(fast, RU).endswith("Длительность: 1.2 с")
    assert describe(unknown, RU).endswith("Длительность: неизвестно")


def test_failed_shows_the_error() -> None:
    result = ProvisionerResult(server_handle="srv-2", status="failed", error="ssh: timeout")
    assert describe(result, RU) == "❌ Настройка сервера srv-2: ошибка\nssh: timeout"


def test_error_and_timeout_are_worded_differently() -> None:
    error = describe(ProvisionerResult(server_handle="s", status="error", error="x"), RU)
    timeout = describe(ProvisionerResult(server_handle="s", status="timeout"), RU)
    assert "сбой" in error
    assert "превышено время ожидания" in timeout


def test_fifty_errors_show_the_first_few_and_count_the_rest() -> None:
    errors = [f"step {i} failed" for i in range(50)]
    text = describe(ProvisionerResult(server_handle="s", status="failed", errors=errors), RU)
    for i in range(MAX_ERRORS_SHOWN):
        assert f"• step {i} failed" in text
    assert f"step {MAX_ERRORS_SHOWN} failed" not in text
    assert text.endswith(f"…и ещё {50 - MAX_ERRORS_SHOWN}")


def test_fifty_long_errors_still_end_with_the_count_of_the_rest() -> None:
    errors = ["x" * 400 for _ in range(50)]
    text = describe(ProvisionerResult(server_handle="s", status="failed", errors=errors), RU)
    assert text.endswith(f"\n…и ещё {50 - MAX_ERRORS_SHOWN}")
    assert len(text) <= MAX_UTF16


def test_a_ten_thousand_character_server_name_still_fits_one_message() -> None:
    result = ProvisionerResult(server_handle="h" * 10_000, status="success")
    assert len(plain_parts(describe(result, RU))) == 1


def test_every_text_field_at_its_longest_in_emoji_still_fits_one_message() -> None:
    # An emoji is two UTF-16 units, the unit of Telegram's 4,096 limit.
    huge = "🔥" * 10_000
    result = ProvisionerResult(
        server_handle=huge, status=huge, error=huge, server_ip=huge, errors=[huge] * 50
    )
    text = describe(result, RU)
    assert utf16_len(text) <= MAX_UTF16
    assert plain_parts(text) == [text]


def test_an_unlisted_status_is_shown_as_the_provisioner_wrote_it() -> None:
    result = ProvisionerResult(server_handle="srv-3", status="cancelled", error="by operator")
    assert describe(result, RU) == "❌ Настройка сервера srv-3: cancelled\nby operator"


def test_a_fractional_duration_is_rounded_where_shown() -> None:
    result = ProvisionerResult(server_handle="s", status="success", duration_ms=84_499.6)
    assert describe(result, RU).endswith("Длительность: 1 мин 24 с")


def test_an_unknown_count_of_redeployed_services_reads_as_a_dash() -> None:
    result = ProvisionerResult(server_handle="s", status="success", services_redeployed=None)
    assert "Перезапущено сервисов: —\n" in describe(result, RU)


def test_a_huge_error_is_cut_to_a_readable_length() -> None:
    text = describe(ProvisionerResult(server_handle="s", status="error", error="x" * 50_000), RU)
    assert len(text) < 2000
    assert text.endswith("…")


def test_html_hostile_values_are_kept_exactly_as_written() -> None:
    result = ProvisionerResult(
        server_handle="<b>srv & co</b>", status="failed", error="a < b && c > d"
    )
    text = describe(result, RU)
    assert "<b>srv & co</b>" in text
    assert "a < b && c > d" in text
