"""The fake API's data: users, projects, servers and tasks, shaped like the deployed API's.

Timestamps are naive on users and zoned (``...Z``) on tasks and servers, objects
carry fields the bot does not know, projects have no ``owner_id`` (they are
kept by the Telegram id that sees them) and servers have no ``id``.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .records import JSON


@dataclass
class ApiData:
    """The objects the fake serves; a test (or the sandbox) adds them with ``add_*``."""

    users: list[JSON] = field(default_factory=list)
    projects: dict[int, list[JSON]] = field(default_factory=dict)
    """Projects by the Telegram id that sees them (the API scopes by ``X-Telegram-ID``)."""
    servers: list[JSON] = field(default_factory=list)
    tasks: dict[int, list[JSON]] = field(default_factory=dict)
    """Tasks by the Telegram id that sees them, scoped like projects."""

    _user_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def add_user(
        self,
        telegram_id: int,
        *,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        is_admin: bool = False,
        user_id: int | None = None,
        **extra: Any,
    ) -> JSON:
        """Add a user; ``user_id`` (the API's id) is numbered from 1 unless given."""
        now = _naive_now()
        user: JSON = {
            "id": user_id if user_id is not None else next(self._user_ids),
            "telegram_id": telegram_id,
            "username": username,
            "first_name": first_name,
            "last_name": last_name,
            "is_admin": is_admin,
            "is_active": True,
            "created_at": now,
            "updated_at": now,
            **extra,
        }
        self.users.append(user)
        return user

    def add_project(
        self,
        telegram_id: int,
        name: str,
        *,
        status: str = "active",
        description: str | None = None,
        repository_url: str | None = None,
        deployed_url: str | None = None,
        nested_config: bool = False,
        **extra: Any,
    ) -> JSON:
        """Add a project seen by ``telegram_id``.

        ``nested_config`` keeps description and URLs in a ``config`` object
        (``repo_url``), as some API versions do.
        """
        project: JSON = {"id": str(uuid.uuid4()), "name": name, "status": status}
        details = {"description": description, "deployed_url": deployed_url}
        if nested_config:
            project["config"] = {**details, "repo_url": repository_url, "modules": []}
        else:
            project |= {**details, "repository_url": repository_url}
        project |= {"created_at": _naive_now(), "tags": [], **extra}
        self.projects.setdefault(telegram_id, []).append(project)
        return project

    def add_server(
        self,
        handle: str,
        *,
        host: str | None = None,
        public_ip: str | None = "203.0.113.10",
        status: str = "active",
        is_managed: bool = True,
        labels: JSON | None = None,
        **extra: Any,
    ) -> JSON:
        server: JSON = {
            "handle": handle,
            "host": host if host is not None else f"{handle}.internal",
            "public_ip": public_ip,
            "status": status,
            "capacity_cpu": 4,
            "capacity_ram_mb": 8192,
            "capacity_disk_mb": 81920,
            "used_ram_mb": 2048,
            "used_disk_mb": 10240,
            "is_managed": is_managed,
            "labels": labels if labels is not None else {},
            "os_type": "ubuntu",
            "last_seen_at": _zoned_now(),
            **extra,
        }
        self.servers.append(server)
        return server

    def add_task(
        self,
        telegram_id: int,
        *,
        type: str = "engineering",
        status: str = "running",
        project_id: str | None = None,
        error_message: str | None = None,
        **extra: Any,
    ) -> JSON:
        """Add a task seen by ``telegram_id``, with zoned timestamps (``...Z``) like the API's."""
        started = datetime.now(UTC) - timedelta(minutes=5)
        task: JSON = {
            "id": str(uuid.uuid4()),
            "type": type,
            "status": status,
            "project_id": project_id,
            "created_at": _zoned(started - timedelta(minutes=1)),
            "started_at": _zoned(started) if status != "queued" else None,
            "updated_at": _zoned_now(),
            "error_message": error_message,
            "retries": 0,
            "metadata": {},
            **extra,
        }
        self.tasks.setdefault(telegram_id, []).append(task)
        return task

    def user(self, telegram_id: int) -> JSON | None:
        """The user with this Telegram id, if any."""
        return next((u for u in self.users if u.get("telegram_id") == telegram_id), None)

    def is_admin(self, telegram_id: int) -> bool:
        user = self.user(telegram_id)
        return bool(user and user.get("is_admin"))


def _naive_now() -> str:
    # Users carry naive timestamps on the deployed API (``2026-11-23T21:56:03.248759``).
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


def _zoned_now() -> str:
    return _zoned(datetime.now(UTC))


def _zoned(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
