"""The sandbox's settings: defaults that work on a fresh machine, errors that name the variable."""

from __future__ import annotations

import pytest

from services.sandbox.settings import SandboxSettings, load
from shared.settings import SettingsError


def test_with_nothing_set_the_page_is_on_localhost_8080_with_a_redis_of_its_own() -> None:
    assert load({}) == SandboxSettings(
        sandbox_host="127.0.0.1",
        sandbox_port=8080,
        redis_url=None,
        log_level="INFO",
        sandbox_po_contract="seed",
    )


def test_a_real_token_in_the_environment_is_not_read() -> None:
    settings = load({"TELEGRAM_BOT_TOKEN": "42:real-secret", "SANDBOX_PORT": "9000"})
    assert settings.sandbox_port == 9000
    assert "real-secret" not in repr(settings)


def test_redis_url_and_a_lower_case_log_level_are_taken() -> None:
    settings = load({"REDIS_URL": "redis://localhost:6379/3", "LOG_LEVEL": "debug"})
    assert settings.redis_url == "redis://localhost:6379/3"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"SANDBOX_PORT": "eighty"}, "SANDBOX_PORT"),
        ({"SANDBOX_PORT": "70000"}, "SANDBOX_PORT"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"SANDBOX_PO_CONTRACT": "worker_streams"}, "SANDBOX_PO_CONTRACT"),
    ],
)
def test_a_malformed_variable_is_named(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        load(environ)


def test_the_po_contract_may_be_worker_streams() -> None:
    assert load({"SANDBOX_PO_CONTRACT": "worker-streams"}).sandbox_po_contract == "worker-streams"


def test_po_service_runs_the_fake_po_service_instead_of_the_worker_manager() -> None:
    settings = load({"SANDBOX_PO_CONTRACT": "po-service"})
    assert settings.sandbox_po_contract == "po-service"
    assert settings.fake_po_profile is None
