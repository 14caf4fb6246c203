"""Quick-command answers as HTML pages that each fit one Telegram message.

Every string from the API is cut to a sane length and then escaped with
``html.escape``, in that order (cutting after escaping could split
``&amp;``): a project named ``<b>x & y`` shows exactly that.

A list is shown a page at a time: at most ``PAGE_ITEMS`` items (a
screenful), fewer when long items would pass Telegram's limit, so that a
page is always one message and can be edited into another page in place
(the ◀ / ▶ buttons, ``keyboards`` and ``callbacks``). Pages are cut the
same way every time for the same list, so a page number from a button
names the same items until the list itself changes.

Telegram counts its 4,096 limit in UTF-16 units of the text *after* entity
parsing, which is never longer than the HTML we send; so measuring the HTML
is a safe bound and needs no parser. No item can reach the limit on its own:
each field is cut before escaping, and escaping grows a character at most
six-fold (``"`` -> ``&quot;``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, TypeVar

from shared import i18n
from shared.schemas import Project, Server, Task
from shared.texts import Texts

T = TypeVar("T")

MAX_MESSAGE_UTF16 = 4096
PAGE_ITEMS = 10
"""Items on one page of a list: about a screenful."""
_HEADING_RESERVE_UTF16 = 200
"""Room kept on every page for its heading (title, count, page number)."""
MAX_FIELD_CHARS = 120
"""Any one string from the API, before escaping (x6 at worst: 720 units)."""
MAX_DESCRIPTION_CHARS = 1000
"""A project's description on its own card (the card may take two messages)."""
ELLIPSIS = "…"


@dataclass(frozen=True)
class Page:
    """One page of a list: its HTML, and which items (``start:end``) it shows."""

    text: str
    number: int
    """0-based."""
    count: int
    """Pages in the whole list (1 for a short or empty list)."""
    start: int
    end: int


class NamedTask(NamedTuple):
    """A task, and its project's name when the person's own projects hold it."""

    task: Task
    project_name: str | None = None


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def api_text(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """An API value made safe for HTML: cut to ``limit`` characters, then escaped."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS
    return html.escape(text, quote=True)


def page_bounds(
    blocks: Sequence[str], *, per_page: int = PAGE_ITEMS, limit: int = MAX_MESSAGE_UTF16
) -> list[tuple[int, int]]:
    """``(start, end)`` of each page: at most ``per_page`` blocks, joined within ``limit``.

    Blocks are joined with a blank line; room for the heading is kept. Every
    page holds at least one block, and an empty list has no pages.
    """
    room = limit - _HEADING_RESERVE_UTF16
    bounds: list[tuple[int, int]] = []
    start, used = 0, 0
    for index, block in enumerate(blocks):
        size = utf16_len(block) + 2  # with the blank line before it
        if index > start and (index - start >= per_page or used + size > room):
            bounds.append((start, index))
            start, used = index, 0
        used += size
    if start < len(blocks):
        bounds.append((start, len(blocks)))
    return bounds


def render_pages(
    kind: str, items: Sequence[T], render: Callable[[T, Texts], str], texts: Texts
) -> list[Page]:
    """Every page of a quick command's answer: a heading and one block per item.

    An empty list is one page with the "nothing here" line.
    """
    if not items:
        return [Page(html.escape(texts.list_empty[kind]), 0, 1, 0, 0)]
    title = texts.list_title_html[kind].format(count=len(items))
    blocks = [render(item, texts) for item in items]
    bounds = page_bounds(blocks)
    pages = []
    for number, (start, end) in enumerate(bounds):
        heading = title
        if len(bounds) > 1:
            where = texts.list_page.format(page=number + 1, pages=len(bounds))
            heading = f"{title} · {html.escape(where)}"
        text = "\n\n".join([heading, *blocks[start:end]])
        pages.append(Page(text, number, len(bounds), start, end))
    return pages


def project_block(project: Project, texts: Texts) -> str:
    status = texts.project_status.get(project.status, project.status)
    lines = [texts.project_html.format(name=api_text(project.name), status=api_text(status))]
    if project.repository:
        lines.append(texts.project_repository_html.format(url=api_text(project.repository, 300)))
    return "\n".join(lines)


def project_card(project: Project, texts: Texts) -> str:
    """A project's details: name, status, and description, repository and deployed URL if any."""
    status = texts.project_status.get(project.status, project.status)
    lines = [texts.project_card_html.format(name=api_text(project.name), status=api_text(status))]
    if project.summary:
        description = api_text(project.summary, MAX_DESCRIPTION_CHARS)
        lines.append(texts.project_description_html.format(description=description))
    if project.repository:
        lines.append(texts.project_repository_html.format(url=api_text(project.repository, 300)))
    if project.deployed:
        lines.append(texts.project_deployed_html.format(url=api_text(project.deployed, 300)))
    return "\n".join(lines)


def server_block(server: Server, texts: Texts) -> str:
    return texts.server_html.format(
        handle=api_text(server.handle),
        status=api_text(texts.server_status.get(server.status, server.status)),
        ram=usage(server.used_ram_mb, server.capacity_ram_mb, texts),
        disk=usage(server.used_disk_mb, server.capacity_disk_mb, texts),
    )


def task_block(entry: NamedTask, texts: Texts) -> str:
    """A task: type, status and id; its project by name (by id if the name is unknown)."""
    task = entry.task
    status = texts.task_status.get(task.status, task.status)
    head = texts.task_html.format(
        type=api_text(task.type), status=api_text(status), id=api_text(task.id)
    )
    parts = [head]
    if entry.project_name is not None:
        parts.append(texts.task_project_name_html.format(name=api_text(entry.project_name)))
    elif task.project_id is not None:
        parts.append(texts.task_project_html.format(project=api_text(task.project_id)))
    if task.started_at:
        started = _short_time(task.started_at, texts.language)
        parts.append(texts.task_started_html.format(started=api_text(started)))
    return "\n".join(parts)


def usage(used_mb: int, capacity_mb: int, texts: Texts) -> str:
    """``2 ГБ из 8 ГБ (25%)``; capacity unknown (0) gives the "no data" text."""
    if capacity_mb <= 0:
        return html.escape(texts.server_usage_unknown)
    percent = round(100 * used_mb / capacity_mb)
    return html.escape(
        texts.server_usage.format(
            used=size(used_mb, texts), total=size(capacity_mb, texts), percent=percent
        )
    )


def size(megabytes: int, texts: Texts) -> str:
    if abs(megabytes) < 1024:
        return texts.size_mb.format(value=megabytes)
    return texts.size_gb.format(value=f"{megabytes / 1024:.1f}".rstrip("0").rstrip("."))


def _short_time(stamp: str, language: str) -> str:
    """``2026-11-23T21:56:03Z`` -> ``23.11.2026, 21:56 UTC`` as ``language`` writes it (Babel);
    anything that is not an ISO moment, as it is. A moment without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return i18n.short_datetime(moment, language)
