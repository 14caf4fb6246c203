"""The fake API's routes: the paths CONTRACTS.md lists, answered from its data.

Like the deployed API (FastAPI), every collection path answers a 307 to its
trailing-slash form with the query kept, and errors are ``{"detail": ...}``.
The ``collections_unslashed`` switch turns that round (collections served
unslashed, the slashed paths redirected), for tests of redirect following.
The onboarding routes (``POST /api/users/``: 201, 409 on a duplicate
``telegram_id``; ``POST /api/users/upsert``: 200) write to its data.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from aiohttp import web
from yarl import URL

from .records import JSON

if TYPE_CHECKING:
    from .fake import FakeApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COLLECTIONS: Final = ("/api/users", "/api/projects", "/api/servers", "/api/tasks")


def redirected(path: str, collections_unslashed: bool) -> bool:
    """Whether ``path`` is a collection's redirecting form (the unslashed one, by default)."""
    return path.rstrip("/") in COLLECTIONS and path.endswith("/") == collections_unslashed


class Routes:
    """The handlers, answering from ``api``'s data and switches as they are at each request."""

    def __init__(self, api: FakeApi) -> None:
        self._api = api

    def add_to(self, app: web.Application) -> None:
        lists: dict[str, Handler] = {
            "/api/users": self._list_users,
            "/api/projects": self._list_projects,
            "/api/servers": self._list_servers,
            "/api/tasks": self._list_tasks,
        }
        for collection, handler in lists.items():
            app.router.add_get(collection, self._collection(handler, slashed=False))
            app.router.add_get(collection + "/", self._collection(handler, slashed=True))
        app.router.add_get("/api/users/by-telegram/{telegram_id}", self._user_by_telegram)
        app.router.add_post("/api/users", self._collection(self._create_user, slashed=False))
        app.router.add_post("/api/users/", self._collection(self._create_user, slashed=True))
        app.router.add_post("/api/users/upsert", self._upsert_user)
        app.router.add_get("/api/projects/{project_id}", self._get_project)

    def _collection(self, handler: Handler, *, slashed: bool) -> Handler:
        """``handler`` where the API serves the collection, a 307 to there from the other form."""

        async def answer(request: web.Request) -> web.StreamResponse:
            if not redirected(request.path, self._api.collections_unslashed):
                return await handler(request)
            return self._redirect(request, request.path.rstrip("/") + ("" if slashed else "/"))

        return answer

    def _redirect(self, request: web.Request, path: str) -> web.StreamResponse:
        # Like FastAPI's redirect_slashes: an absolute Location, query kept.
        redirect_origin = self._api.redirect_origin
        origin = URL(redirect_origin) if redirect_origin else request.url.origin()
        target = origin.with_path(path).with_query(request.query)
        return web.Response(status=307, headers={"Location": str(target)})

    async def _list_users(self, request: web.Request) -> web.StreamResponse:
        api = self._api
        wanted = request.query.get("telegram_id")
        if wanted is None or api.users_query_ignored:
            return web.json_response(api.users)
        telegram_id = _parse_int(wanted)
        if telegram_id is None:
            return detail(422, "telegram_id: Input should be a valid integer")
        user = api.user(telegram_id)
        if user is None:
            return detail(404, "User not found")
        return web.json_response(user if api.users_as_object else [user])

    async def _user_by_telegram(self, request: web.Request) -> web.StreamResponse:
        telegram_id = _parse_int(request.match_info["telegram_id"])
        user = self._api.user(telegram_id) if telegram_id is not None else None
        if user is None:
            return detail(404, "User not found")
        return web.json_response(user)

    async def _create_user(self, request: web.Request) -> web.StreamResponse:
        """201 with the new user; 409 when one with that ``telegram_id`` exists (CONTRACTS.md)."""
        body = await _user_body(request)
        if isinstance(body, web.Response):
            return body
        if self._api.user(body["telegram_id"]) is not None:
            return detail(409, "User with this telegram_id already exists")
        return web.json_response(self._api.add_user(**body), status=201)

    async def _upsert_user(self, request: web.Request) -> web.StreamResponse:
        """200 with the user, created or updated (``is_admin`` kept unless given)."""
        body = await _user_body(request, is_admin_default=None)
        if isinstance(body, web.Response):
            return body
        user = self._api.user(body["telegram_id"])
        if user is None:
            return web.json_response(self._api.add_user(**_known(body)))
        user.update(_known(body))
        return web.json_response(user)

    async def _list_projects(self, request: web.Request) -> web.StreamResponse:
        return _scoped(request, self._api.projects)

    async def _get_project(self, request: web.Request) -> web.StreamResponse:
        """One project, checked like the API does: its owner and admins see it, others get 403."""
        api = self._api
        wanted = request.match_info["project_id"]
        owner, project = next(
            (
                (owner, project)
                for owner, projects in api.projects.items()
                for project in projects
                if str(project["id"]) == wanted
            ),
            (None, None),
        )
        viewer = None if api.project_route_unscoped else _viewer(request)
        if viewer is not None and api.user(viewer) is None:
            return detail(404, f"User with telegram_id {viewer} not found")
        if project is None:
            return detail(404, "Project not found")
        if viewer is not None and viewer != owner and not api.is_admin(viewer):
            return detail(403, "Access denied: not project owner")
        return web.json_response(project)

    async def _list_servers(self, request: web.Request) -> web.StreamResponse:
        viewer = _viewer(request)
        if viewer is not None and not self._api.is_admin(viewer):
            return detail(403, "Admin access required")
        return web.json_response(self._api.servers)

    async def _list_tasks(self, request: web.Request) -> web.StreamResponse:
        status = request.query.get("status")
        return _scoped(request, self._api.tasks, lambda task: status in (None, task["status"]))


def detail(status: int, detail: str) -> web.Response:
    """An error the way the API words it."""
    return web.json_response({"detail": detail}, status=status)


def _scoped(
    request: web.Request,
    by_viewer: dict[int, list[JSON]],
    keep: Callable[[JSON], bool] = lambda _item: True,
) -> web.Response:
    if "X-Telegram-ID" in request.headers and _viewer(request) is None:
        return detail(422, "X-Telegram-ID: Input should be a valid integer")
    viewer = _viewer(request)
    # Without X-Telegram-ID the caller is a service and sees everything.
    scope = by_viewer.values() if viewer is None else [by_viewer.get(viewer, [])]
    return web.json_response([item for item in itertools.chain(*scope) if keep(item)])


_USER_FIELDS: Final = ("username", "first_name", "last_name")


async def _user_body(
    request: web.Request, *, is_admin_default: bool | None = False
) -> JSON | web.Response:
    """The user body the API's schema accepts, or its 422 (FastAPI's wording, shortened)."""
    try:
        raw = await request.json()
    except ValueError:
        return detail(422, "body: JSON decode error")
    if not isinstance(raw, dict):
        return detail(422, "body: Input should be a valid dictionary")
    telegram_id = raw.get("telegram_id")
    if not isinstance(telegram_id, int) or isinstance(telegram_id, bool):
        return detail(422, "telegram_id: Field required (an integer)")
    body: JSON = {"telegram_id": telegram_id}
    for name in _USER_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            return detail(422, f"{name}: Input should be a valid string")
        body[name] = value
    is_admin = raw.get("is_admin", is_admin_default)
    if is_admin is not None and not isinstance(is_admin, bool):
        return detail(422, "is_admin: Input should be a valid boolean")
    body["is_admin"] = is_admin
    return body


def _known(body: JSON) -> JSON:
    """``body`` without the fields left unset (an upsert keeps what it is not given)."""
    return {name: value for name, value in body.items() if value is not None}


def _viewer(request: web.Request) -> int | None:
    value = request.headers.get("X-Telegram-ID")
    return _parse_int(value) if value is not None else None


def _parse_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
