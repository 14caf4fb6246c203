"""Everything the bot says to people, in one place.

Russian is the default (the design document's language). Another language
is one more ``Texts`` instance; ``for_language`` picks one, falling back to
Russian.
"""

from __future__ import annotations

import msgspec


class Texts(msgspec.Struct, frozen=True, kw_only=True):
    access_denied: str
    access_denied_id: str
    service_unavailable: str
    po_failed: str
    provision_success: str
    provision_failure: str
    provision_status: dict[str, str]
    provision_errors_more: str
    duration_unknown: str


RU = Texts(
    access_denied="Доступ запрещён. Обратитесь к администратору.",
    access_denied_id="Ваш Telegram ID: {telegram_id}",
    service_unavailable="Сервис временно недоступен. Попробуйте ещё раз через минуту.",
    po_failed=(
        "Не удалось запустить вашего ассистента. Ваше сообщение сохранено, "
        "попробуйте написать ещё раз чуть позже."
    ),
    provision_success=(
        "✅ Сервер {handle} настроен\n"
        "IP: {ip}\n"
        "Перезапущено сервисов: {redeployed}\n"
        "Длительность: {duration}"
    ),
    provision_failure="❌ Настройка сервера {handle}: {status}\n{details}",
    provision_status={
        "failed": "ошибка",
        "error": "сбой",
        "timeout": "превышено время ожидания",
    },
    provision_errors_more="…и ещё {count}",
    duration_unknown="неизвестно",
)

_LANGUAGES = {"ru": RU}


def for_language(code: str | None) -> Texts:
    return _LANGUAGES.get((code or "ru").split("-")[0].lower(), RU)
