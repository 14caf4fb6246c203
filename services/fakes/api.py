"""A fake of the platform's backend API, served over real HTTP on 127.0.0.1.

It answers what CONTRACTS.md lists, shaped like the deployed API: naive
timestamps on users and zoned ones on tasks, unknown extra fields, projects
without ``owner_id`` (scoped by ``X-Telegram-ID``), servers without ``id``,
and a 307 from every collection path to its trailing-slash form with the
query kept. Data is plain JSON objects a test (or the sandbox) adds::

    async with FakeApi() as api:
        seed_demo(api)                       # or api.add_user(...), api.add_project(...)
        client = ApiClient(api.url, None)
        ...
        request = await api.wait_for_request("/api/users/")

Switches, read on every request so a test can flip them at any time:

- ``down``: every request is answered by resetting the connection;
- ``slow``: seconds to wait before answering;
- ``delay_next(path, seconds)``: the next request to exactly ``path`` waits
  that long before it is answered (one request: a slow auth for one update);
- ``fail_with``: an HTTP status (500, 502, 503...) answered to everything;
- ``users_query_ignored``: ``GET /api/users?telegram_id=`` returns every user,
  as one deployed version does;
- ``users_as_object``: that query answers the single user object, not a list;
- ``project_route_unscoped``: ``GET /api/projects/{id}`` answers any project,
  whoever asks (CONTRACTS.md does not promise that route is scoped);
- ``require_internal_key``: when set, requests without that ``X-Internal-Key`` get 401;
- ``redirect_origin``: the 307s point at this origin instead (a misrouted proxy);
- ``respond_with(path, ...)``: a canned answer for one path (garbage bodies...).

Every request is recorded (``requests``), even those answered by a reset;
``wait_for``/``wait_for_request`` await them without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, Self

import msgspec
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COLLECTIONS: Final = ("/api/users", "/api/projects", "/api/servers", "/api/tasks")
_REASONS: Final = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it. ``headers`` is case-insensitive."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    dropped: bool = False
    """True when the fake was ``down`` and reset the connection instead of answering."""


@dataclass(frozen=True)
class CannedResponse:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


@dataclass
class FakeApi:
    """The backend API's stand-in: ``async with FakeApi() as api``; see the module doc."""

    host: str = "127.0.0.1"
    port: int = 0

    users: list[JSON] = field(default_factory=list)
    projects: dict[int, list[JSON]] = field(default_factory=dict)
    """Projects by the Telegram id that sees them (the API scopes by ``X-Telegram-ID``)."""
    servers: list[JSON] = field(default_factory=list)
    tasks: dict[int, list[JSON]] = field(default_factory=dict)
    """Tasks by the Telegram id that sees them, scoped like projects."""

    down: bool = False
    slow: float = 0.0
    fail_with: int | None = None
    users_query_ignored: bool = False
    users_as_object: bool = False
    project_route_unscoped: bool = False
    require_internal_key: str | None = None
    redirect_origin: str | None = None

    requests: list[RecordedRequest] = field(default_factory=list)

    _canned: dict[str, CannedResponse] = field(default_factory=dict, repr=False)
    _delays: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _user_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _runner: web.AppRunner | None = field(default=None, repr=False)
    _changed: asyncio.Condition | None = field(default=None, repr=False)
    _stopping: asyncio.Event | None = field(default=None, repr=False)

    # --- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL clients use (``API_URL``)."""
        if self._runner is None:
            raise RuntimeError("FakeApi is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        self._add_routes(app)
        # handler_cancellation: a client that gave up (timeout) frees a ``slow`` handler.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is None:
            return
        assert self._stopping is not None
        self._stopping.set()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- data ------------------------------------------------------------------

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

    def respond_with(
        self,
        path: str,
        body: bytes | str | Any,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``path`` (with or without its trailing slash) with this, after the 307.

        ``bytes``/``str`` are sent as they are (garbage included); anything else as JSON.
        """
        if isinstance(body, str):
            raw = body.encode()
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = msgspec.json.encode(body)
        self._canned[path.rstrip("/")] = CannedResponse(status, raw, content_type, headers or {})

    def delay_next(self, path: str, seconds: float) -> None:
        """Answer the next request to exactly ``path`` ``seconds`` late (once; calls queue up)."""
        self._delays.setdefault(path, []).append(seconds)

    def clear_responses(self) -> None:
        self._canned.clear()

    # --- what happened -----------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Requests whose path is exactly ``path`` (``/api/projects`` is not ``/api/projects/``)."""
        return [request for request in self.requests if request.path == path]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Return once ``predicate()`` holds, re-checked after every request.

        ``TimeoutError`` after ``within`` seconds, so a test that waits in vain fails fast.
        """
        condition = self._condition()
        async with asyncio.timeout(within), condition:
            await condition.wait_for(predicate)

    async def wait_for_request(
        self, path: str | None = None, *, count: int = 1, within: float = 5.0
    ) -> RecordedRequest:
        """The ``count``-th request to ``path`` (any path when ``None``), once it has arrived."""

        def matching() -> list[RecordedRequest]:
            return self.requests if path is None else self.requests_to(path)

        await self.wait_for(lambda: len(matching()) >= count, within)
        return matching()[count - 1]

    # --- HTTP ----------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        for collection in COLLECTIONS:
            app.router.add_get(collection, self._redirect_to_slash)
        app.router.add_get("/api/users/", self._list_users)
        app.router.add_get("/api/users/by-telegram/{telegram_id}", self._user_by_telegram)
        app.router.add_get("/api/projects/", self._list_projects)
        app.router.add_get("/api/projects/{project_id}", self._get_project)
        app.router.add_get("/api/servers/", self._list_servers)
        app.router.add_get("/api/tasks/", self._list_tasks)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        await self._record(request)
        if self.down:
            return _reset(request)
        delays = self._delays.get(request.path)
        if delays:
            await self._pause(delays.pop(0))
        if self.slow > 0:
            await self._pause(self.slow)
        if self.fail_with is not None:
            return _failure(self.fail_with)
        if self.require_internal_key is not None and (
            request.headers.get("X-Internal-Key") != self.require_internal_key
        ):
            return _detail(401, "Invalid or missing internal key")
        canned = self._canned.get(request.path.rstrip("/"))
        if canned is not None and request.path not in COLLECTIONS:
            return web.Response(
                status=canned.status,
                body=canned.body,
                content_type=canned.content_type,
                headers=canned.headers,
            )
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _detail(404, "Not Found")

    async def _record(self, request: web.Request) -> None:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
                dropped=self.down,
            )
        )
        condition = self._condition()
        async with condition:
            condition.notify_all()

    async def _pause(self, seconds: float) -> None:
        # Ends early when the fake stops, so a slow answer never holds up teardown.
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _redirect_to_slash(self, request: web.Request) -> web.StreamResponse:
        # Like FastAPI's redirect_slashes: an absolute Location, query kept.
        origin = URL(self.redirect_origin) if self.redirect_origin else request.url.origin()
        target = origin.with_path(request.path + "/").with_query(request.query)
        return web.Response(status=307, headers={"Location": str(target)})

    async def _list_users(self, request: web.Request) -> web.StreamResponse:
        wanted = request.query.get("telegram_id")
        if wanted is None or self.users_query_ignored:
            return web.json_response(self.users)
        telegram_id = _parse_int(wanted)
        if telegram_id is None:
            return _detail(422, "telegram_id: Input should be a valid integer")
        user = self._user(telegram_id)
        if user is None:
            return _detail(404, "User not found")
        return web.json_response(user if self.users_as_object else [user])

    async def _user_by_telegram(self, request: web.Request) -> web.StreamResponse:
        telegram_id = _parse_int(request.match_info["telegram_id"])
        user = self._user(telegram_id) if telegram_id is not None else None
        if user is None:
            return _detail(404, "User not found")
        return web.json_response(user)

    async def _list_projects(self, request: web.Request) -> web.StreamResponse:
        return self._scoped(request, self.projects)

    async def _get_project(self, request: web.Request) -> web.StreamResponse:
        viewer = None if self.project_route_unscoped else _viewer(request)
        scope = self.projects if viewer is None else {viewer: self.projects.get(viewer, [])}
        for project in itertools.chain.from_iterable(scope.values()):
            if str(project["id"]) == request.match_info["project_id"]:
                return web.json_response(project)
        return _detail(404, "Project not found")

    async def _list_servers(self, request: web.Request) -> web.StreamResponse:
        viewer = _viewer(request)
        if viewer is not None and not self._is_admin(viewer):
            return _detail(403, "Admin access required")
        return web.json_response(self.servers)

    async def _list_tasks(self, request: web.Request) -> web.StreamResponse:
        status = request.query.get("status")
        return self._scoped(request, self.tasks, lambda task: status in (None, task["status"]))

    def _scoped(
        self,
        request: web.Request,
        by_viewer: dict[int, list[JSON]],
        keep: Callable[[JSON], bool] = lambda _item: True,
    ) -> web.Response:
        if "X-Telegram-ID" in request.headers and _viewer(request) is None:
            return _detail(422, "X-Telegram-ID: Input should be a valid integer")
        viewer = _viewer(request)
        # Without X-Telegram-ID the caller is a service and sees everything.
        scope = by_viewer.values() if viewer is None else [by_viewer.get(viewer, [])]
        return web.json_response([item for item in itertools.chain(*scope) if keep(item)])

    def _user(self, telegram_id: int) -> JSON | None:
        return next((u for u in self.users if u.get("telegram_id") == telegram_id), None)

    def _is_admin(self, telegram_id: int) -> bool:
        user = self._user(telegram_id)
        return bool(user and user.get("is_admin"))

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            raise RuntimeError("FakeApi is not started")
        return self._changed


@dataclass(frozen=True)
class DemoSeed:
    """What ``seed_demo`` added, for a sandbox banner or a test's assertions."""

    admin: JSON
    user: JSON
    projects: list[JSON]
    servers: list[JSON]
    tasks: list[JSON]


def seed_demo(
    api: FakeApi, *, admin_telegram_id: int = 100001, user_telegram_id: int = 100002
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


def _reset(request: web.Request) -> web.StreamResponse:
    # abort() sends a TCP reset: the client sees a connection error, not an HTTP answer.
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)


def _failure(status: int) -> web.Response:
    if status in _REASONS:
        # What a proxy in front of the API answers: not JSON.
        return web.Response(status=status, text=_REASONS[status], content_type="text/html")
    return web.Response(status=status, text="Internal Server Error")


def _detail(status: int, detail: str) -> web.Response:
    return web.json_response({"detail": detail}, status=status)


def _viewer(request: web.Request) -> int | None:
    value = request.headers.get("X-Telegram-ID")
    return _parse_int(value) if value is not None else None


def _parse_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _naive_now() -> str:
    # Users carry naive timestamps on the deployed API (``2026-11-23T21:56:03.248759``).
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


def _zoned_now() -> str:
    return _zoned(datetime.now(UTC))


def _zoned(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
