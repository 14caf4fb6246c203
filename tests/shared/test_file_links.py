"""Signed file links (issue 16): a link opens its own file until it expires, and nothing else."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from shared.file_links import PATH_PREFIX, link, verify

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
FILE = "AgACAgIAAxkBAAIBY2Vh_x-Q"
NOW = 1_800_000_000


def parts(url: str) -> tuple[str, str | None, str | None]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    file_id = split.path.removeprefix(PATH_PREFIX)
    return file_id, query.get("exp", [None])[0], query.get("sig", [None])[0]


def made(expires_at: int = NOW + 60, key: bytes = KEY, file_id: str = FILE) -> str:
    return link("http://files:8081/", key, file_id, expires_at=expires_at)


def test_a_link_opens_its_file_before_it_expires() -> None:
    file_id, expires, sig = parts(made())

    assert verify(KEY, file_id, expires, sig, now=NOW)
    assert made().startswith(f"http://files:8081{PATH_PREFIX}{FILE}?exp=")


def test_a_link_carries_no_bot_token_nor_anything_but_the_file_and_its_expiry() -> None:
    assert set(parse_qs(urlsplit(made()).query)) == {"exp", "sig"}


def test_an_expired_link_is_refused() -> None:
    file_id, expires, sig = parts(made(expires_at=NOW - 1))

    assert not verify(KEY, file_id, expires, sig, now=NOW)


def test_a_link_for_one_file_does_not_open_another() -> None:
    _, expires, sig = parts(made())

    assert not verify(KEY, "BQACAgIAAxkBAAIBZGVh", expires, sig, now=NOW)


def test_a_later_expiry_written_into_the_link_is_refused() -> None:
    file_id, _, sig = parts(made())

    assert not verify(KEY, file_id, str(NOW + 86_400 * 365), sig, now=NOW)


@pytest.mark.parametrize("position", [0, 10, 42])
def test_a_signature_with_one_changed_character_is_refused(position: int) -> None:
    file_id, expires, sig = parts(made())
    assert sig is not None
    changed = sig[:position] + ("A" if sig[position] != "A" else "B") + sig[position + 1 :]

    assert not verify(KEY, file_id, expires, changed, now=NOW)


def test_a_link_signed_with_another_key_is_refused() -> None:
    file_id, expires, sig = parts(made(key=OTHER_KEY))

    assert not verify(KEY, file_id, expires, sig, now=NOW)


@pytest.mark.parametrize(
    ("file_id", "expires", "sig"),
    [
        (FILE, None, "x"),
        (FILE, str(NOW + 60), None),
        (FILE, "-1", "x"),
        (FILE, "1e9", "x"),
        ("../../etc/passwd", str(NOW + 60), "x"),
        (FILE, str(NOW + 60), "é" * 43),
    ],
)
def test_missing_or_malformed_parts_are_refused(
    file_id: str, expires: str | None, sig: str | None
) -> None:
    assert not verify(KEY, file_id, expires, sig, now=NOW)


def test_only_telegram_file_ids_get_a_link() -> None:
    with pytest.raises(ValueError, match="file id"):
        made(file_id="a/b")
