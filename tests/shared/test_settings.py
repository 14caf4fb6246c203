"""Settings: read once from the environment, typed, secrets hidden."""

from __future__ import annotations

import pytest

from shared.settings import BaseSettings, SettingsError, load

TOKEN = "123456:TEST-token_abc"


def test_defaults_are_the_documented_ones() -> None:
    settings = load(BaseSettings, {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.api_url == "http://api:8000"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.internal_api_key is None
    assert settings.admin_telegram_ids == ()
    assert (settings.log_level, settings.log_format) == ("INFO", "json")
    assert settings.metrics_port == 0


def test_metrics_port_is_read_as_a_number() -> None:
    settings = load(BaseSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, "METRICS_PORT": "9100"})
    assert settings.metrics_port == 9100


def test_admin_ids_are_read_as_a_comma_separated_list() -> None:
    settings = load(BaseSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_TELEGRAM_IDS": "1, 22,333"})
    assert settings.admin_telegram_ids == (1, 22, 333)


def test_log_level_and_format_are_case_insensitive() -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "LOG_LEVEL": "debug", "LOG_FORMAT": "CONSOLE"}
    settings = load(BaseSettings, env)
    assert (settings.log_level, settings.log_format) == ("DEBUG", "console")


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "no-colon"}, "TELEGRAM_BOT_TOKEN"),
        ({"ADMIN_TELEGRAM_IDS": "12,abc"}, "ADMIN_TELEGRAM_IDS"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL"),
        ({"API_URL": "api:8000"}, "API_URL"),
        ({"TELEGRAM_API_URL": "ftp://x"}, "TELEGRAM_API_URL"),
        ({"METRICS_PORT": "http"}, "METRICS_PORT"),
        ({"METRICS_PORT": "70000"}, "METRICS_PORT"),
        ({"TELEGRAM_RATE_GLOBAL_PER_S": "0"}, "TELEGRAM_RATE_GLOBAL_PER_S"),
        ({"TELEGRAM_RATE_GLOBAL_PER_S": "0.5"}, "TELEGRAM_RATE_GLOBAL_PER_S"),
        ({"TELEGRAM_RATE_GLOBAL_PER_S": "nan"}, "TELEGRAM_RATE_GLOBAL_PER_S"),
        ({"TELEGRAM_RATE_GLOBAL_PER_S": "inf"}, "TELEGRAM_RATE_GLOBAL_PER_S"),
        ({"TELEGRAM_RATE_CHAT_PER_S": "-1"}, "TELEGRAM_RATE_CHAT_PER_S"),
        ({"TELEGRAM_RATE_CHAT_PER_S": "0"}, "TELEGRAM_RATE_CHAT_PER_S"),
    ],
)
def test_a_missing_or_malformed_variable_is_named(override: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        load(BaseSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, **override})


def test_secrets_never_show_in_the_settings_repr() -> None:
    settings = load(BaseSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, "INTERNAL_API_KEY": "k-secret"})
    assert "TEST-token" not in repr(settings)
    assert "k-secret" not in repr(settings)
    assert settings.telegram_bot_token.reveal() == TOKEN
    assert set(settings.secrets()) == {TOKEN, "k-secret"}


def test_a_malformed_url_is_not_echoed_since_it_may_carry_a_password() -> None:
    with pytest.raises(SettingsError) as info:
        load(BaseSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, "REDIS_URL": "http://:hunter2@x"})
    assert "hunter2" not in str(info.value)
