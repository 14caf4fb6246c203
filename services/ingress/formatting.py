"""Quick-command answers as HTML messages that fit Telegram's limit.

Every string from the API is cut to a sane length and then escaped with
``html.escape``, in that order (cutting after escaping could split
``&amp;``): a project named ``<b>x & y`` shows exactly that. A list too long
for one message is split between items into several messages.

Telegram counts its 4,096 limit in UTF-16 units of the text *after* entity
parsing, which is never longer than the HTML we send; so measuring the HTML
is a safe bound and needs no parser. No item can reach the limit on its own:
each field is cut before escaping, and escaping grows a character at most
six-fold (``"`` -> ``&quot;``).

An answer is at most ``MAX_LIST_MESSAGES`` messages, Telegram's burst for
one chat: what does not fit is counted in a closing "…and N more" line
(inline pagination is a later issue).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TypeVar

from shared.schemas import Project, Server, Task
from shared.texts import Texts

T = TypeVar("T")

MAX_MESSAGE_UTF16 = 4096
MAX_LIST_MESSAGES = 3
_MORE_RESERVE_UTF16 = 100
"""Room kept in the last message for the "and N more" line."""
MAX_FIELD_CHARS = 120
"""Any one string from the API, before escaping (x6 at worst: 720 units)."""
ELLIPSIS = "…"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def api_text(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """An API value made safe for HTML: cut to ``limit`` characters, then escaped."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + ELLIPSIS
    return html.escape(text, quote=True)


def split_messages(
    items: Sequence[str],
    more: Callable[[int], str],
    *,
    limit: int = MAX_MESSAGE_UTF16,
    max_messages: int = MAX_LIST_MESSAGES,
) -> list[str]:
    """Join ``items`` with blank lines into at most ``max_messages`` messages of ``limit`` units.

    Items that do not fit are left out and the last message ends with
    ``more(count_left_out)``.
    """
    messages: list[str] = []
    current = ""
    for index, item in enumerate(items):
        last = len(messages) + 1 == max_messages
        room = limit - _MORE_RESERVE_UTF16 if last else limit
        candidate = f"{current}\n\n{item}" if current else item
        if current and utf16_len(candidate) > room:
            if last:
                messages.append(f"{current}\n\n{more(len(items) - index)}")
                return messages
            messages.append(current)
            candidate = item
        current = candidate
    if current:
        messages.append(current)
    return messages


def render_list(
    kind: str, items: Sequence[T], render: Callable[[T, Texts], str], texts: Texts
) -> list[str]:
    """The messages answering a quick command: a heading and one block per item."""
    if not items:
        return [html.escape(texts.list_empty[kind])]
    heading = texts.list_title_html[kind].format(count=len(items))
    blocks = [heading, *(render(item, texts) for item in items)]
    return split_messages(blocks, lambda count: html.escape(texts.list_more.format(count=count)))


def project_block(project: Project, texts: Texts) -> str:
    status = texts.project_status.get(project.status, project.status)
    lines = [texts.project_html.format(name=api_text(project.name), status=api_text(status))]
    if project.repository:
        lines.append(texts.project_repository_html.format(url=api_text(project.repository, 300)))
    return "\n".join(lines)


def server_block(server: Server, texts: Texts) -> str:
    return texts.server_html.format(
        handle=api_text(server.handle),
        status=api_text(server.status),
        ram=usage(server.used_ram_mb, server.capacity_ram_mb, texts),
        disk=usage(server.used_disk_mb, server.capacity_disk_mb, texts),
    )


def task_block(task: Task, texts: Texts) -> str:
    status = texts.task_status.get(task.status, task.status)
    head = texts.task_html.format(
        type=api_text(task.type), status=api_text(status), id=api_text(task.id)
    )
    parts = [head]
    if task.project_id is not None:
        parts.append(texts.task_project_html.format(project=api_text(task.project_id)))
    if task.started_at:
        parts.append(texts.task_started_html.format(started=api_text(_short_time(task.started_at))))
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


def _short_time(stamp: str) -> str:
    """``2026-11-23T21:56:03.248759Z`` -> ``2026-11-23 21:56 UTC``; anything else as it is."""
    date, sep, clock = stamp.partition("T")
    if not sep or len(clock) < 5:
        return stamp
    zone = " UTC" if clock.endswith(("Z", "+00:00")) else ""
    return f"{date} {clock[:5]}{zone}"
