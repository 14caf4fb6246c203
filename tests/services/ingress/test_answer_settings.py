"""The settings of durable answers: defaults, and values refused at start."""

from __future__ import annotations

import pytest

from services.ingress.settings import IngressSettings
from shared.settings import SettingsError, load

TOKEN = "123456:TEST-token_abc"


def test_answers_are_taken_over_about_twenty_seconds_after_a_crash_by_default() -> None:
    settings = load(IngressSettings, {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert (settings.ingress_alive_ttl_s, settings.ingress_alive_refresh_s) == (15.0, 5.0)
    assert (settings.answers_scan_s, settings.answers_max_age_s) == (5.0, 3600.0)


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"INGRESS_ALIVE_TTL_S": "0"}, "INGRESS_ALIVE_TTL_S"),
        ({"INGRESS_ALIVE_REFRESH_S": "15"}, "INGRESS_ALIVE_REFRESH_S"),
        ({"ANSWERS_SCAN_S": "-1"}, "ANSWERS_SCAN_S"),
        ({"ANSWERS_MAX_AGE_S": "0"}, "ANSWERS_MAX_AGE_S"),
    ],
)
def test_an_answers_setting_that_cannot_work_is_refused_naming_its_variable(
    override: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError, match=variable):
        load(IngressSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, **override})
