"""The fake API's routes: the paths CONTRACTS.md lists, answered from its data.

Like the deployed API (FastAPI), every collection path answers a 307 to its
trailing-slash form with the query kept, and errors are ``{"detail": ...}``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from aiohttp import web
from yarl import URL

from .records import JSON

if TYPE_CHECKING:
    from .fake import FakeApi

COLLECTIONS: Final = ("/api/users", "/api/projects", "/api/servers", "/api/tasks")


class Routes:
    """The handlers, answering from ``api``'s data and switches as they are at each request."""

    def __init__(self, api: FakeApi) -> None:
        self._api = api

    def add_to(self, app: web.Application) -> None:
        for collection in COLLECTIONS:
            app.router.add_get(collection, self._redirect_to_slash)
        app.router.add_get("/api/users/", self._list_users)
        app.router.add_get("/api/users/by-telegram/{telegram_id}", self._user_by_telegram)
        app.router.add_get("/api/projects/", self._list_projects)
        app.router.add_get("/api/projects/{project_id}", self._get_project)
        app.router.add_get("/api/servers/", self._list_servers)
        app.router.add_get("/api/tasks/", self._list_tasks)

    async def _redirect_to_slash(self, request: web.Request) -> web.StreamResponse:
        # Like FastAPI's redirect_slashes: an absolute Location, query kept.
        redirect_origin = self._api.redirect_origin
        origin = URL(redirect_origin) if redirect_origin else request.url.origin()
        target = origin.with_path(request.path + "/").with_query(request.query)
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

    async def _list_projects(self, request: web.Request) -> web.StreamResponse:
        return _scoped(request, self._api.projects)

    async def _get_project(self, request: web.Request) -> web.StreamResponse:
        projects = self._api.projects
        viewer = None if self._api.project_route_unscoped else _viewer(request)
        scope = projects if viewer is None else {viewer: projects.get(viewer, [])}
        for project in itertools.chain.from_iterable(scope.values()):
            if str(project["id"]) == request.match_info["project_id"]:
                return web.json_response(project)
        return detail(404, "Project not found")

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


def _viewer(request: web.Request) -> int | None:
    value = request.headers.get("X-Telegram-ID")
    return _parse_int(value) if value is not None else None


def _parse_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
