"""The three lists a quick action shows: how each is fetched, drawn and paged.

``/projects``, ``/servers`` and ``/tasks`` (typed or pressed) answer the
first page as a new message; a ◀ / ▶ button (``callbacks``) edits that
message into another page. Both fetch the list again from the API with the
``X-Telegram-ID`` of whoever asked or pressed, so the API scopes every
page, and nothing about the list is kept in between: a page button carries
only the list's kind and a page number (``keyboards.ListPage``).

A page number past the end (the list shrank since the button was drawn) shows
the last page: the person wanted "more of this list", and that is the
nearest thing that exists.

Tasks name their project by its name, looked up in the person's own
projects (one more call, and only when a task has a project); a project
not among them, or a projects call that fails, leaves the id shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from aiogram.types import InlineKeyboardButton

from services.ingress import formatting
from services.ingress.formatting import NamedTask
from services.ingress.keyboards import ListKind, list_markup, project_rows
from shared.api import ApiClient, ApiError, ApiForbidden
from shared.log import get_logger
from shared.schemas import Project, Server, Task
from shared.sending.pieces import ReplyMarkup
from shared.texts import Texts

log = get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ListSpec(Generic[T]):
    kind: ListKind
    name: str
    """``projects``, ``servers`` or ``tasks``: the key of its texts, and its name in logs."""
    fetch: Callable[[ApiClient, int], Awaitable[Sequence[T]]]
    """The API call, on behalf of a Telegram id."""
    render: Callable[[T, Texts], str]
    item_rows: Callable[[Sequence[T], Texts], list[list[InlineKeyboardButton]]] | None = None
    """Buttons for the items of a page (projects open their details)."""
    admins_only: bool = False
    """A 403 means "admins only" rather than "not for your account"."""

    def failure(self, exc: ApiError, texts: Texts) -> str:
        """What to tell the person when the API did not give the list.

        A 403 is an answer, not an outage: the API is up and says no, so
        "try again in a minute" would send the person round in circles.
        """
        if isinstance(exc, ApiForbidden):
            return texts.admins_only if self.admins_only else texts.list_forbidden
        return texts.service_unavailable


class PageView(NamedTuple):
    text: str
    """HTML, one message."""
    markup: ReplyMarkup | None
    number: int
    pages: int


def page_view(spec: ListSpec[T], items: Sequence[T], page: int, texts: Texts) -> PageView:
    """Page ``page`` of ``items`` (the last one if there are fewer), with its buttons."""
    pages = formatting.render_pages(spec.name, items, spec.render, texts)
    shown = pages[min(page, len(pages) - 1)]
    rows = spec.item_rows(items[shown.start : shown.end], texts) if spec.item_rows else []
    markup = list_markup(spec.kind, shown.number, shown.count, texts, rows)
    return PageView(shown.text, markup, shown.number, shown.count)


async def _projects(api: ApiClient, telegram_id: int) -> Sequence[Project]:
    return await api.list_projects(telegram_id)


async def _servers(api: ApiClient, telegram_id: int) -> Sequence[Server]:
    return await api.list_servers(telegram_id)


async def _tasks(api: ApiClient, telegram_id: int) -> Sequence[NamedTask]:
    tasks = await api.list_tasks(telegram_id, status="running")
    names = await _project_names(api, telegram_id, tasks)
    return [NamedTask(task, _name_of(task, names)) for task in tasks]


def _name_of(task: Task, names: dict[str, str]) -> str | None:
    return None if task.project_id is None else names.get(str(task.project_id))


async def _project_names(api: ApiClient, telegram_id: int, tasks: Sequence[Task]) -> dict[str, str]:
    """Project id -> name, from the person's own projects; empty if no task needs one."""
    if all(task.project_id is None for task in tasks):
        return {}
    try:
        projects = await api.list_projects(telegram_id)
    except ApiError as exc:
        # The tasks are still worth showing, with their projects' ids.
        log.warning("task_project_names_failed", error=type(exc).__name__)
        return {}
    return {str(project.id): project.name for project in projects}


PROJECTS: ListSpec[Project] = ListSpec(
    ListKind.PROJECTS, "projects", _projects, formatting.project_block, project_rows
)
SERVERS: ListSpec[Server] = ListSpec(
    ListKind.SERVERS, "servers", _servers, formatting.server_block, admins_only=True
)
TASKS: ListSpec[NamedTask] = ListSpec(ListKind.TASKS, "tasks", _tasks, formatting.task_block)

LISTS: dict[ListKind, ListSpec[Any]] = {spec.kind: spec for spec in (PROJECTS, SERVERS, TASKS)}
