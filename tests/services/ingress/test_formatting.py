"""Quick-command formatting: escaped as written, cut to size, split to Telegram's limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.fakes.telegram import parse_html, utf16_len
from services.ingress.formatting import (
    MAX_FIELD_CHARS,
    api_text,
    render_list,
    server_block,
    size,
    split_messages,
)
from shared.schemas import Server
from shared.texts import RU


def more(count: int) -> str:
    return f"+{count}"


def test_api_text_is_cut_before_it_is_escaped() -> None:
    assert api_text("<b>x & y") == "&lt;b&gt;x &amp; y"
    cut = api_text("&" * (MAX_FIELD_CHARS + 50))
    assert cut == "&amp;" * (MAX_FIELD_CHARS - 1) + "…"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=MAX_FIELD_CHARS * 3), max_size=60))
def test_any_api_strings_render_to_messages_telegram_accepts_and_shows_as_written(
    names: list[str],
) -> None:
    servers = [Server(handle=name, status=name[:10]) for name in names]
    messages = render_list("servers", servers, server_block, RU)
    assert 1 <= len(messages) <= 3
    for message in messages:
        shown = parse_html(message).text  # what the user reads; raises if Telegram would
        assert utf16_len(shown) <= 4096
    shown_all = "\n".join(parse_html(m).text for m in messages)
    for name in names[:5]:
        if len(name) < MAX_FIELD_CHARS and "\r" not in name:
            assert name in shown_all


def test_split_keeps_order_and_never_breaks_an_item() -> None:
    items = [f"item {n} " + "x" * 900 for n in range(10)]
    messages = split_messages(items, more, limit=2000, max_messages=10)
    assert "\n\n".join(messages) == "\n\n".join(items)
    assert all(utf16_len(m) <= 2000 for m in messages)


def test_what_does_not_fit_the_last_message_is_counted() -> None:
    items = [f"item {n} " + "x" * 900 for n in range(10)]
    messages = split_messages(items, more, limit=2000, max_messages=2)
    assert len(messages) == 2
    assert all(utf16_len(m) <= 2000 for m in messages)
    assert messages[-1].endswith("item 3 " + "x" * 900 + "\n\n+6")


def test_sizes_read_in_megabytes_then_gigabytes() -> None:
    assert [size(mb, RU) for mb in (0, 512, 1024, 1536, 81920)] == [
        "0 МБ",
        "512 МБ",
        "1 ГБ",
        "1.5 ГБ",
        "80 ГБ",
    ]
