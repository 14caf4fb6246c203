"""Every service refuses a value that cannot work with one line in one format."""

from __future__ import annotations

import pytest

from services.ingress.settings import IngressSettings
from services.notifier.settings import NotifierSettings
from services.relay.settings import RelaySettings
from shared.settings import BaseSettings, SettingsError, load

TOKEN = "123456:TEST-token_abc"


@pytest.mark.parametrize(
    ("settings", "variable", "value", "message"),
    [
        (BaseSettings, "TELEGRAM_RATE_CHAT_PER_S", "0", "must be positive"),
        (IngressSettings, "API_TIMEOUT_S", "0", "must be positive"),
        (IngressSettings, "AUTH_CACHE_SIZE", "-5", "must be positive"),
        (IngressSettings, "ANSWERS_MAX_AGE_S", "0", "must be positive"),
        (IngressSettings, "AUTH_CACHE_TTL_S", "-1", "must not be negative"),
        (IngressSettings, "INCOMING_BACKLOG_MAX", "0", "must be positive"),
        (RelaySettings, "TYPING_CAP_S", "0", "must be positive"),
        (RelaySettings, "LEASE_TICK_S", "-1", "must be positive"),
        (RelaySettings, "PO_CONTRACT", "worker_streams", "Invalid enum value 'worker_streams'"),
        (RelaySettings, "PO_REPLY_TIMEOUT_S", "0", "must be positive"),
        (NotifierSettings, "API_TIMEOUT_S", "0", "must be positive"),
        (NotifierSettings, "ADMINS_CACHE_S", "-1", "must not be negative"),
        (NotifierSettings, "NOTIFIER_BACKFILL_S", "0", "must be at least 0.001"),
        (NotifierSettings, "NOTIFIER_BACKFILL_S", "inf", "expected a finite number"),
    ],
)
def test_a_value_out_of_range_is_refused_naming_its_variable_in_one_format(
    settings: type[BaseSettings], variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load(settings, {"TELEGRAM_BOT_TOKEN": TOKEN, variable: value})
    assert str(raised.value) == f"{variable}: {message}"
