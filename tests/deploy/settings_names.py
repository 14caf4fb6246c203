"""The environment variables each process reads: its settings class's fields, upper-cased."""

from __future__ import annotations

import importlib

import msgspec

from services.cli import COMMANDS
from shared.settings import BaseSettings


def settings_class(command: str) -> type[BaseSettings]:
    cls: type[BaseSettings] = importlib.import_module(
        f"{COMMANDS[command].package}.settings"
    ).Settings
    return cls


def read_by(command: str) -> frozenset[str]:
    return frozenset(
        field.encode_name.upper() for field in msgspec.structs.fields(settings_class(command))
    )


def required_by(command: str) -> frozenset[str]:
    return frozenset(
        field.encode_name.upper()
        for field in msgspec.structs.fields(settings_class(command))
        if field.required
    )
