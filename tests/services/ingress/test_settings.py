"""Ingress settings: webhook mode is refused at start unless fully and validly configured."""

from __future__ import annotations

import pytest

from services.ingress.settings import IngressSettings
from shared.settings import SettingsError, load
from tests.processes import run_cli

TOKEN = "123456:TEST-token_abc"
WEBHOOK = {
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "INGRESS_MODE": "webhook",
    "WEBHOOK_URL": "https://bot.example.org/tg/hook",
    "WEBHOOK_SECRET": "Abc_123-xyz",
}


def test_polling_is_the_default_and_needs_no_webhook_settings() -> None:
    settings = load(IngressSettings, {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings.ingress_mode == "polling"
    assert settings.webhook_listen == "0.0.0.0:8080"
    assert (settings.auth_cache_ttl_s, settings.auth_cache_unknown_ttl_s) == (60.0, 10.0)


def test_a_complete_webhook_configuration_is_accepted_and_its_secret_is_scrubbed() -> None:
    settings = load(IngressSettings, WEBHOOK)
    assert settings.webhook_path == "/tg/hook"
    assert WEBHOOK["WEBHOOK_SECRET"] in settings.secrets()
    assert WEBHOOK["WEBHOOK_SECRET"] not in repr(settings)


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"WEBHOOK_URL": ""}, "WEBHOOK_URL"),
        ({"WEBHOOK_URL": "ftp://x"}, "WEBHOOK_URL"),
        ({"WEBHOOK_SECRET": ""}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": "has space"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": "ключ"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": "x" * 257}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_LISTEN": "8080"}, "WEBHOOK_LISTEN"),
        ({"WEBHOOK_LISTEN": "0.0.0.0:99999"}, "WEBHOOK_LISTEN"),
        ({"INGRESS_MODE": "carrier-pigeon"}, "INGRESS_MODE"),
        ({"AUTH_CACHE_SIZE": "0"}, "AUTH_CACHE_SIZE"),
        ({"AUTH_CACHE_TTL_S": "-1"}, "AUTH_CACHE_TTL_S"),
    ],
)
def test_a_missing_or_malformed_webhook_setting_is_named(
    override: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}:") as raised:
        load(IngressSettings, {**WEBHOOK, **override})
    secret = override.get("WEBHOOK_SECRET")
    if secret:
        assert secret not in str(raised.value)


def test_webhook_mode_without_a_secret_stops_the_process_with_status_2() -> None:
    env = {key: value for key, value in WEBHOOK.items() if key != "WEBHOOK_SECRET"}
    result = run_cli(["ingress"], env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "telegram-bot ingress: configuration error: "
        "WEBHOOK_SECRET: required when INGRESS_MODE=webhook"
    ]


@pytest.mark.parametrize(
    ("env", "limit_mb"),
    [
        ({}, 20),
        ({"TELEGRAM_API_URL": "https://api.telegram.org/"}, 20),
        ({"TELEGRAM_API_URL": "http://telegram-bot-api:8081"}, 2000),
        ({"TELEGRAM_API_URL": "https://bot-api.example.org", "FILES_DOWNLOAD_LIMIT_MB": "20"}, 20),
        ({"FILES_DOWNLOAD_LIMIT_MB": "50"}, 50),
    ],
    ids=["cloud-default", "cloud", "self-hosted", "self-hosted-set", "set"],
)
def test_the_file_download_limit_is_the_cloud_one_unless_the_bot_api_is_self_hosted(
    env: dict[str, str], limit_mb: int
) -> None:
    settings = load(IngressSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, **env})
    assert settings.files_download_limit == limit_mb * 1024 * 1024


@pytest.mark.parametrize("value", ["0", "-20", "twenty"])
def test_a_download_limit_that_is_not_a_positive_number_is_named(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^FILES_DOWNLOAD_LIMIT_MB:"):
        load(IngressSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, "FILES_DOWNLOAD_LIMIT_MB": value})
