"""Who is in the sandbox: the people on the page, known to the fake API and the fake Telegram."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.fakes.api import FakeApi, seed_demo
from services.fakes.telegram import FakeTelegram

Role = Literal["admin", "user", "stranger"]

ADMIN_ID = 100001
USER_ID = 100002
STRANGER_ID = 100666


@dataclass(frozen=True)
class Person:
    role: Role
    telegram_id: int
    first_name: str
    username: str | None
    about: str
    """One line for the page: what this person can do."""


PEOPLE = (
    Person("admin", ADMIN_ID, "Ada", "ada", "an admin: sees servers, told about provisioning"),
    Person("user", USER_ID, "Linus", "linus", "a regular user with projects and tasks"),
    Person(
        "stranger", STRANGER_ID, "Stranger", "stranger", "not in the API: the bot turns them away"
    ),
)


def populate(api: FakeApi, telegram: FakeTelegram) -> tuple[Person, ...]:
    """Seed the API's demo world and give the fake Telegram's users the same names."""
    seed_demo(api, admin_telegram_id=ADMIN_ID, user_telegram_id=USER_ID)
    for person in PEOPLE:
        # Before any chat exists: a private chat copies its user's name when made.
        user = telegram.user(person.telegram_id)
        user["first_name"] = person.first_name
        if person.username is None:
            user.pop("username", None)
        else:
            user["username"] = person.username
    return PEOPLE
