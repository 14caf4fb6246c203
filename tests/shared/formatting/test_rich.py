"""PO text as a rich message: the shape Bot API 10.1 (as aiogram types it) takes, content kept."""

from __future__ import annotations

from aiogram.types import InputRichMessage
from hypothesis import given

from shared.formatting.rich import MAX_RICH_UTF16, plain_text, rich_message
from tests.shared.formatting.judge import FAST
from tests.shared.formatting.test_properties import DOCUMENTS, Block


def test_headings_tables_code_and_paragraphs_become_their_blocks() -> None:
    rich = rich_message(
        "# Title\n\ntext *x*\nmore\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |\n\n```sh\nls\n```"
    )
    assert rich is not None
    blocks = rich["blocks"]
    assert [block["type"] for block in blocks] == ["heading", "paragraph", "table", "pre"]
    assert blocks[0] == {"type": "heading", "text": "Title", "size": 1}
    assert blocks[1]["text"] == [["text ", {"type": "italic", "text": "x"}], "\n", "more"]
    assert blocks[2]["cells"][0][0] == {
        "text": "a", "align": "center", "valign": "top", "is_header": True
    }  # fmt: skip
    assert blocks[2]["cells"][1][1]["align"] == "right"
    assert blocks[3] == {"type": "pre", "text": "ls", "language": "sh"}


def test_a_link_keeps_its_url_unescaped() -> None:
    rich = rich_message('[docs](https://e.com/?a=1&b="2")')
    assert rich is not None
    assert rich["blocks"][0]["text"] == {
        "type": "url", "text": "docs", "url": 'https://e.com/?a=1&b="2"'
    }  # fmt: skip


def test_nothing_visible_or_too_long_has_no_rich_form() -> None:
    assert rich_message("  \n\n ") is None
    assert rich_message("x" * (MAX_RICH_UTF16 + 1)) is None


@FAST
@given(DOCUMENTS)
def test_any_document_is_a_valid_input_rich_message_showing_every_word(blocks: list[Block]) -> None:
    rich = rich_message("\n\n".join(block.markdown for block in blocks))
    if rich is None:
        return
    InputRichMessage.model_validate(rich)
    shown, pos = plain_text(rich["blocks"]), 0
    for word in (word for block in blocks for word in (*block.words, *block.cells)):
        found = shown.find(word, pos)
        assert found >= 0, f"{word!r} lost after {pos}"
        pos = found + len(word)
