"""Quick-command formatting: escaped as written, cut to size, paged to Telegram's limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.fakes.telegram import parse_html, utf16_len
from services.ingress.formatting import (
    MAX_FIELD_CHARS,
    PAGE_ITEMS,
    NamedTask,
    api_text,
    page_bounds,
    project_card,
    render_pages,
    server_block,
    size,
    task_block,
)
from shared.formatting.splitting import html_parts
from shared.schemas import Project, Server, Task
from shared.texts import RU


def test_api_text_is_cut_before_it_is_escaped() -> None:
    assert api_text("<b>x & y") == "&lt;b&gt;x &amp; y"
    cut = api_text("&" * (MAX_FIELD_CHARS + 50))
    assert cut == "&amp;" * (MAX_FIELD_CHARS - 1) + "…"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=MAX_FIELD_CHARS * 3), max_size=60))
def test_any_api_strings_render_to_pages_of_one_message_telegram_accepts(
    names: list[str],
) -> None:
    servers = [Server(handle=name, status=name[:10]) for name in names]
    pages = render_pages("servers", servers, server_block, RU)
    assert [page.number for page in pages] == list(range(len(pages)))
    shown_all = ""
    for page in pages:
        assert page.end - page.start <= PAGE_ITEMS
        assert len(html_parts(page.text)) == 1  # one message: it can be edited in place
        shown = parse_html(page.text).text  # what the user reads; raises if Telegram would
        assert utf16_len(shown) <= 4096
        shown_all += shown + "\n"
    for name in names[:5]:
        if len(name) < MAX_FIELD_CHARS and "\r" not in name:
            assert name in shown_all


def test_the_largest_possible_items_still_fit_a_page_each() -> None:
    worst = '"' * (MAX_FIELD_CHARS * 3)
    task = Task(id=worst, type=worst, status=worst, project_id=worst, started_at=worst)
    tasks = [NamedTask(task, project_name=worst), NamedTask(task)] * 3
    for page in render_pages("tasks", tasks, task_block, RU):
        assert utf16_len(page.text) <= 4096


def test_pages_keep_order_and_hold_at_most_a_screenful() -> None:
    blocks = [f"item {n}" for n in range(35)]
    assert page_bounds(blocks) == [(0, 10), (10, 20), (20, 30), (30, 35)]


def test_long_items_make_shorter_pages_within_the_limit() -> None:
    blocks = [f"item {n} " + "x" * 900 for n in range(10)]
    bounds = page_bounds(blocks, limit=2000)
    assert bounds == [(start, start + 1) for start in range(10)]
    bounds = page_bounds(blocks)
    assert [end - start for start, end in bounds] == [4, 4, 2]


def test_a_list_of_several_pages_numbers_them_in_the_heading() -> None:
    servers = [Server(handle=f"srv-{n}") for n in range(11)]
    first, second = render_pages("servers", servers, server_block, RU)
    assert first.text.startswith("<b>Серверы</b> (11) · стр. 1 из 2\n\n")
    assert second.text.startswith("<b>Серверы</b> (11) · стр. 2 из 2\n\n")
    assert (second.start, second.end) == (10, 11)


def test_a_project_card_shows_only_the_details_the_api_has() -> None:
    bare = Project(id="p", name="<bare>", status="draft")
    assert project_card(bare, RU) == "<b>&lt;bare&gt;</b>\nСтатус: черновик"


def test_sizes_read_in_megabytes_then_gigabytes() -> None:
    assert [size(mb, RU) for mb in (0, 512, 1024, 1536, 81920)] == [
        "0 МБ",
        "512 МБ",
        "1 ГБ",
        "1.5 ГБ",
        "80 ГБ",
    ]
