"""Who is in the sandbox: the people on the page, known to the fake API and the fake Telegram.

Grace's and Alan's POs have a persona (``services.fakes.workers.personas``), so a
person can watch "typing…", a reply streaming in, and a message the PO starts.
Each person's Telegram ``language_code`` is set here, explicitly: the page speaks
it, and so does the bot. Emma writes in English; Margaret has 25 projects, so
``/projects`` shows its pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.fakes.api import FakeApi, seed_demo
from services.fakes.api.seed import seed_projects
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import Persona
from services.fakes.workers.personas import FOLLOW_UP_S

Role = Literal["admin", "user", "stranger"]

ADMIN_ID = 100001
USER_ID = 100002
STREAMING_ID = 100003
PROACTIVE_ID = 100004
ENGLISH_ID = 100005
MANY_PROJECTS_ID = 100006
STRANGER_ID = 100666


@dataclass(frozen=True)
class Person:
    role: Role
    telegram_id: int
    first_name: str
    username: str | None
    about: str
    """One line for the page: what this person can do."""
    key: str
    """Unique on the page (its element id and URL fragment)."""
    persona: Persona | None = None
    """How this person's PO behaves; None: it echoes."""
    language_code: str = "ru"
    """Their Telegram client's language: the bot answers in it, the page is shown in it."""
    projects: int = 0
    """Projects of their own in the API, beyond the demo world's."""


PEOPLE = (
    Person(
        "admin", ADMIN_ID, "Ada", "ada", "an admin: sees servers, told about provisioning", "admin"
    ),
    Person("user", USER_ID, "Linus", "linus", "a regular user with projects and tasks", "user"),
    Person(
        "user",
        STREAMING_ID,
        "Grace",
        "grace",
        "her PO thinks aloud: “typing…”, then its reply streams in",
        "grace",
        "streaming",
    ),
    Person(
        "user",
        PROACTIVE_ID,
        "Alan",
        "alan",
        "his PO writes again by itself a minute after his last message",
        "alan",
        "proactive",
    ),
    Person(
        "user",
        ENGLISH_ID,
        "Emma",
        "emma",
        "her Telegram is in English: so are the bot and this page",
        "emma",
        language_code="en",
    ),
    Person(
        "user",
        MANY_PROJECTS_ID,
        "Margaret",
        "margaret",
        "has 25 projects: /projects shows them a page at a time",
        "margaret",
        projects=25,
    ),
    Person(
        "stranger",
        STRANGER_ID,
        "Stranger",
        "stranger",
        "not in the API: the bot turns them away",
        "stranger",
    ),
)


def populate(api: FakeApi, telegram: FakeTelegram) -> tuple[Person, ...]:
    """Seed the API's demo world and give the fake Telegram's users the same names."""
    seed_demo(api, admin_telegram_id=ADMIN_ID, user_telegram_id=USER_ID)
    seeded = (ADMIN_ID, USER_ID)
    for person in PEOPLE:
        if person.role != "stranger" and person.telegram_id not in seeded:
            api.add_user(person.telegram_id, username=person.username, first_name=person.first_name)
        seed_projects(api, person.telegram_id, person.projects)
        # Before any chat exists: a private chat copies its user's name when made.
        user = telegram.user(person.telegram_id)
        user["first_name"] = person.first_name
        user["language_code"] = person.language_code
        if person.username is None:
            user.pop("username", None)
        else:
            user["username"] = person.username
    return PEOPLE


def personas(api: FakeApi) -> dict[int, Persona]:
    """The persona of each person who has one, by their API user id (the PO's user)."""
    by_telegram_id = {user["telegram_id"]: user["id"] for user in api.users}
    return {
        int(by_telegram_id[person.telegram_id]): person.persona
        for person in PEOPLE
        if person.persona is not None
    }


def reminders(after_s: float = FOLLOW_UP_S) -> dict[int, float]:
    """``po-service``: the chats whose PO writes again by itself, ``after_s`` after its answer."""
    return {person.telegram_id: after_s for person in PEOPLE if person.persona == "proactive"}
