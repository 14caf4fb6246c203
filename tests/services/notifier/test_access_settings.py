"""``ACCESS_REQUESTS_WINDOW_S``: the hourly cap's window, an hour unless told."""

from __future__ import annotations

import pytest

from services.notifier.settings import NotifierSettings
from shared.settings import SettingsError, load

TOKEN = "123456:TEST-token_abc"


def test_the_cap_counts_over_an_hour_unless_told() -> None:
    settings = load(NotifierSettings, {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings.access_requests_window_s == 3600.0
    assert settings.access_requests_per_hour == 20


@pytest.mark.parametrize("value", ["0", "-5", "0.0001"])
def test_a_window_under_a_millisecond_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(NotifierSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, "ACCESS_REQUESTS_WINDOW_S": value})
    assert str(raised.value) == "ACCESS_REQUESTS_WINDOW_S: must be at least 0.001"
