"""``PO_CONTRACT`` for the notifier: the relay's names and values, a bad one refused at start."""

from __future__ import annotations

import os

import pytest

from services.notifier.settings import NotifierSettings
from shared.settings import SettingsError, load
from tests.processes import run_cli

TOKEN = "123456:TEST-token_abc"


@pytest.mark.parametrize("value", ["seed", "worker-streams", "po-service"])
def test_each_profile_of_the_relay_is_a_notifier_po_contract(value: str) -> None:
    settings = load(NotifierSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, "PO_CONTRACT": value})
    assert settings.po_contract == value


def test_the_notifier_speaks_the_seed_profile_unless_told() -> None:
    assert load(NotifierSettings, {"TELEGRAM_BOT_TOKEN": TOKEN}).po_contract == "seed"


def test_a_misspelt_profile_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as raised:
        load(NotifierSettings, {"TELEGRAM_BOT_TOKEN": TOKEN, "PO_CONTRACT": "po_service"})
    assert str(raised.value) == "PO_CONTRACT: Invalid enum value 'po_service'"


def test_a_notifier_given_a_misspelt_profile_stops_with_one_line_and_status_2() -> None:
    # The caller's PYTHONPATH, if set: the code under test wherever it is imported from.
    code = {k: v for k, v in os.environ.items() if k == "PYTHONPATH"}
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "PO_CONTRACT": "poservice", **code}
    result = run_cli(["notifier"], env=env, timeout=10)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "telegram-bot notifier: configuration error: PO_CONTRACT: Invalid enum value 'poservice'"
    ]
