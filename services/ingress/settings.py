from __future__ import annotations

from shared.settings import BaseSettings


class IngressSettings(BaseSettings, kw_only=True, frozen=True):
    api_timeout_s: float = 5.0
    polling_timeout_s: int = 30


Settings = IngressSettings
