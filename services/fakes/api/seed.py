"""A small believable world for the sandbox and for tests that want one."""

from __future__ import annotations

from dataclasses import dataclass

from .data import ApiData
from .records import JSON


@dataclass(frozen=True)
class DemoSeed:
    """What ``seed_demo`` added, for a sandbox banner or a test's assertions."""

    admin: JSON
    user: JSON
    projects: list[JSON]
    servers: list[JSON]
    tasks: list[JSON]


def seed_demo(
    api: ApiData, *, admin_telegram_id: int = 100001, user_telegram_id: int = 100002
) -> DemoSeed:
    """An admin, a user, their projects and tasks, and two servers: a small believable world."""
    admin = api.add_user(admin_telegram_id, username="admin", first_name="Ada", is_admin=True)
    user = api.add_user(user_telegram_id, username="dev", first_name="Linus")
    projects = [
        api.add_project(
            admin_telegram_id,
            "platform",
            description="The platform itself",
            repository_url="https://git.example.org/platform",
        ),
        api.add_project(
            user_telegram_id,
            "shop",
            status="developing",
            description="A small web shop",
            repository_url="https://git.example.org/shop",
            nested_config=True,
        ),
        api.add_project(user_telegram_id, "blog", status="draft"),
    ]
    servers = [
        api.add_server("srv-alpha", labels={"role": "apps"}),
        api.add_server("srv-beta", status="provisioning", public_ip=None),
    ]
    tasks = [
        api.add_task(admin_telegram_id, type="deploy", project_id=str(projects[0]["id"])),
        api.add_task(user_telegram_id, project_id=str(projects[1]["id"])),
        api.add_task(
            user_telegram_id,
            status="failed",
            project_id=str(projects[1]["id"]),
            error_message="tests failed",
        ),
    ]
    return DemoSeed(admin=admin, user=user, projects=projects, servers=servers, tasks=tasks)


PROJECT_STATUSES = ("active", "developing", "draft", "active", "archived")


def seed_projects(api: ApiData, telegram_id: int, count: int) -> list[JSON]:
    """``count`` projects for ``telegram_id`` (``project-01``...), enough to page through."""
    return [
        api.add_project(
            telegram_id,
            f"project-{number:02d}",
            status=PROJECT_STATUSES[number % len(PROJECT_STATUSES)],
            description=f"Demo project number {number}",
            repository_url=f"https://git.example.org/project-{number:02d}",
        )
        for number in range(1, count + 1)
    ]
