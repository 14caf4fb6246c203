"""Files in a PO's reply (issue 16, PO -> user): uploaded in order, each once, never from inside.

Real relays (in the test's loop, or processes where one is killed), real
Redis, the fake Telegram taking multipart uploads; the PO's output entries
are written straight to its output stream (or ``po:response:{id}``).
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from services.fakes.telegram import Failure, FakeTelegram
from services.fakes.workers import FakeWorkerManager
from shared import keys
from shared.schemas import DATA_FIELD
from shared.texts import RU
from tests.plugins.processes import StartService
from tests.processes import ServiceProcess
from tests.services.relay.conftest import StartRelay, answered, chat_of, write_message
from tests.services.relay.files_server import FilesServer, files_server  # noqa: F401

USER = 31
CHAT = chat_of(USER)
PHOTO_1, PHOTO_2 = b"\xff\xd8 first photo", b"\xff\xd8 second photo"
REPORT = b"%PDF-1.7 " + b"r" * 5000
RATES = {"TELEGRAM_RATE_GLOBAL_PER_S": "5000", "TELEGRAM_RATE_CHAT_PER_S": "1000"}


def data(content: bytes) -> str:
    return base64.b64encode(content).decode()


def photo(content: bytes, **extra: Any) -> dict[str, Any]:
    return {"kind": "photo", "data": data(content), **extra}


def report(**extra: Any) -> dict[str, Any]:
    return {"kind": "document", "data": data(REPORT), "file_name": "report.pdf", **extra}


def note(name: str) -> str:
    return RU.attachment_failed.format(name=name)


async def reply(
    redis: aioredis.Redis, text: str | None, attachments: list[Any], **extra: Any
) -> None:
    """The PO's final reply, with files, on the user's output stream (``seed``)."""
    entry = {"request_id": "r-files", "user_id": USER, "is_final": True, **extra}
    if text is not None:
        entry["text"] = text
    entry["attachments"] = attachments
    await redis.xadd(keys.po_output(USER), {DATA_FIELD: msgspec.json.encode(entry)})


def shown(message: dict[str, Any], fake: FakeTelegram) -> Any:
    """What a message shows: its text, or its kind and the bytes the user gets."""
    if "text" in message:
        return message["text"]
    for kind in ("photo", "document", "video", "audio", "voice", "animation"):
        if kind in message:
            media = message[kind][-1] if kind == "photo" else message[kind]
            stored = fake.files.get(media["file_id"])
            assert stored is not None
            return (kind, stored.content)
    raise AssertionError(f"unexpected message {message}")


def uploads(fake: FakeTelegram, method: str) -> int:
    """Calls of ``method`` Telegram accepted."""
    return sum(1 for call in fake.calls if call.method == method and call.ok)


async def after_echo(
    fake: FakeTelegram, redis: aioredis.Redis, start_relay: StartRelay, **env: str
) -> None:
    """A relay serving USER, who has been answered once (``echo: hi``)."""
    fake.lift_flood_limits()
    await start_relay(**env)
    await answered(fake, redis, USER, "hi")


async def test_two_photos_a_document_with_a_2000_character_caption_and_text_arrive_in_order(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await after_echo(fake_telegram, redis, start_relay)
    caption = ("слово " * 400).strip()  # 2,000 characters: over Telegram's 1,024

    await reply(
        redis,
        "Вот отчёт",
        [photo(PHOTO_1, caption="первое"), photo(PHOTO_2), report(caption=caption)],
    )

    sent = await fake_telegram.wait_for_messages(CHAT, 6, timeout=10)
    assert [shown(m, fake_telegram) for m in sent[1:]] == [
        "Вот отчёт",
        ("photo", PHOTO_1),
        ("photo", PHOTO_2),
        ("document", REPORT),
        caption,
    ]
    album, document = sent[2:4], sent[4]
    assert album[0]["media_group_id"] == album[1]["media_group_id"]
    assert album[0]["caption"] == "первое"
    assert (document["document"]["file_name"], "caption" in document) == ("report.pdf", False)
    assert (uploads(fake_telegram, "sendMediaGroup"), uploads(fake_telegram, "sendDocument")) == (
        1,
        1,
    )


async def test_the_buttons_of_a_reply_with_files_are_under_its_last_file(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await after_echo(fake_telegram, redis, start_relay)

    await reply(redis, "Отчёт готов", [report()], buttons=[[{"text": "Ещё", "data": "more"}]])

    text, document = (await fake_telegram.wait_for_messages(CHAT, 3, timeout=10))[1:]
    assert "reply_markup" not in text
    assert document["reply_markup"]["inline_keyboard"][0][0]["text"] == "Ещё"


async def test_the_buttons_of_a_reply_ending_with_an_album_are_on_a_short_text_after_it(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await after_echo(fake_telegram, redis, start_relay)

    await reply(
        redis, None, [photo(PHOTO_1), photo(PHOTO_2)], buttons=[[{"text": "Ок", "data": "ok"}]]
    )

    sent = await fake_telegram.wait_for_messages(CHAT, 4, timeout=10)
    album, carrier = sent[1:3], sent[3]
    assert all("reply_markup" not in m for m in album)
    assert carrier["text"] == RU.attachment_buttons
    assert carrier["reply_markup"]["inline_keyboard"][0][0]["text"] == "Ок"


async def test_a_reply_of_files_only_sends_the_files(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await after_echo(fake_telegram, redis, start_relay)

    await reply(redis, None, [report()])

    sent = await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)
    assert shown(sent[1], fake_telegram) == ("document", REPORT)


async def test_urls_at_internal_addresses_are_refused_and_the_user_told_for_each(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    files_server: FilesServer,  # noqa: F811
) -> None:
    await after_echo(fake_telegram, redis, start_relay)  # FILES_FETCH_ALLOW empty
    urls = [
        files_server.url("/report.pdf"),  # 127.0.0.1: serves, if only the bot would ask
        "http://10.20.30.40/backup.tar",
        "http://169.254.169.254/latest/meta-data/iam.json",
        "http://api:8000/api/users.json",
    ]

    await reply(redis, "Файлы", [{"kind": "document", "url": url} for url in urls] + [report()])

    sent = await fake_telegram.wait_for_messages(CHAT, 7, timeout=20)
    assert [shown(m, fake_telegram) for m in sent[1:]] == [
        "Файлы",
        note("report.pdf"),
        note("backup.tar"),
        note("iam.json"),
        note("users.json"),
        ("document", REPORT),
    ]
    assert files_server.hits == []


async def test_a_url_on_an_allowed_host_is_downloaded_and_sent(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    files_server: FilesServer,  # noqa: F811
) -> None:
    await after_echo(fake_telegram, redis, start_relay, FILES_FETCH_ALLOW=files_server.host)

    await reply(redis, "Держите", [{"kind": "document", "url": files_server.url("/report.pdf")}])

    document = (await fake_telegram.wait_for_messages(CHAT, 3, timeout=10))[2]["document"]
    assert (document["file_name"], document["mime_type"]) == ("report.pdf", "application/pdf")
    assert fake_telegram.files.get(document["file_id"]).content == b"%PDF-1.7 the report"  # type: ignore[union-attr]


async def test_a_file_that_cannot_be_fetched_becomes_a_note_and_the_rest_arrives(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    files_server: FilesServer,  # noqa: F811
) -> None:
    await after_echo(fake_telegram, redis, start_relay, FILES_FETCH_ALLOW=files_server.host)
    missing = {"kind": "document", "url": files_server.url("/gone.pdf")}

    await reply(redis, "Два файла", [missing, report()])

    sent = await fake_telegram.wait_for_messages(CHAT, 4, timeout=10)
    assert [shown(m, fake_telegram) for m in sent[1:]] == [
        "Два файла",
        note("gone.pdf"),
        ("document", REPORT),
    ]


async def test_base64_data_over_10_mb_is_refused_with_a_note_and_the_rest_arrives(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await after_echo(fake_telegram, redis, start_relay)
    big = {"kind": "document", "data": data(b"b" * (10 * 1024 * 1024 + 1)), "file_name": "big.bin"}

    await reply(redis, None, [big, report()])

    sent = await fake_telegram.wait_for_messages(CHAT, 3, timeout=10)
    assert [shown(m, fake_telegram) for m in sent[1:]] == [note("big.bin"), ("document", REPORT)]
    assert uploads(fake_telegram, "sendDocument") == 1


async def test_attachments_described_wrongly_become_notes_and_the_rest_arrives(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await after_echo(fake_telegram, redis, start_relay)
    wrong = [
        {
            "kind": "document",
            "data": data(b"x"),
            "url": "https://x.example/a",
            "file_name": "a.txt",
        },
        {"kind": "document", "data": "not base64!", "file_name": "b.txt"},
        {"kind": "sticker", "data": data(b"x")},
    ]

    await reply(redis, "Смотрите", [*wrong, report()])

    sent = await fake_telegram.wait_for_messages(CHAT, 6, timeout=10)
    assert [shown(m, fake_telegram) for m in sent[1:]] == [
        "Смотрите",
        note("a.txt"),
        note("b.txt"),
        RU.attachment_failed_unnamed.format(number=3),
        ("document", REPORT),
    ]


async def test_a_file_telegram_refuses_becomes_a_note_and_the_rest_arrives(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
) -> None:
    await after_echo(fake_telegram, redis, start_relay)
    fake_telegram.fail_next(
        "sendVoice", Failure.error(400, "Bad Request: VOICE_MESSAGES_FORBIDDEN")
    )

    await reply(
        redis, None, [{"kind": "voice", "data": data(b"OggS"), "file_name": "hi.ogg"}, report()]
    )

    sent = await fake_telegram.wait_for_messages(CHAT, 3, timeout=10)
    assert [shown(m, fake_telegram) for m in sent[1:]] == [note("hi.ogg"), ("document", REPORT)]


@pytest.mark.parametrize("po_contract", ["worker-streams"])
async def test_worker_streams_outputs_carry_attachments_beside_their_content(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_contract: str,
) -> None:
    await after_echo(fake_telegram, redis, start_relay)
    output = {"content": "Готово", "status": "success", "attachments": [report()]}

    stream = keys.worker_output(keys.po_worker_id(USER))
    await redis.xadd(stream, {DATA_FIELD: msgspec.json.encode(output)})

    sent = await fake_telegram.wait_for_messages(CHAT, 3, timeout=10)
    assert [shown(m, fake_telegram) for m in sent[1:]] == ["Готово", ("document", REPORT)]


@pytest.mark.parametrize("po_contract", ["po-service"])
async def test_po_service_answers_carry_attachments_as_a_flat_json_field(
    fake_telegram: FakeTelegram,
    redis: aioredis.Redis,
    start_relay: StartRelay,
    po_contract: str,
) -> None:
    fake_telegram.lift_flood_limits()
    await start_relay()
    await write_message(redis, USER, "пришли отчёт")
    request_id = await _po_input_request_id(redis)

    await redis.xadd(
        keys.po_response(request_id),
        {
            "text": "Отчёт",
            "telegram_chat_id": str(CHAT),
            "attachments": msgspec.json.encode([report()]),
        },
    )

    sent = await fake_telegram.wait_for_messages(CHAT, 2, timeout=10)
    assert [shown(m, fake_telegram) for m in sent] == ["Отчёт", ("document", REPORT)]


async def _po_input_request_id(redis: aioredis.Redis) -> str:
    found: Any = await redis.xread({keys.PO_INPUT: "0"}, block=10_000, count=1)
    assert found, "the relay wrote no po:input entry"
    return str(found[0][1][0][1][b"request_id"].decode())


def relay_process(start_service: StartService, name: str, po_contract: str) -> ServiceProcess:
    return start_service("relay", name=name, RELAY_NAME=name, PO_CONTRACT=po_contract, **RATES)


async def test_no_file_is_uploaded_twice_across_a_relay_killed_mid_reply(
    fake_telegram: FakeTelegram,
    fake_workers: FakeWorkerManager,
    redis: aioredis.Redis,
    start_service: StartService,
    po_contract: str,
) -> None:
    fake_telegram.lift_flood_limits()
    victim = relay_process(start_service, "relay-victim", po_contract)
    await answered(fake_telegram, redis, USER, "hi")
    # The album goes through; the document then fails until the relay is dead.
    fake_telegram.fail_next("sendDocument", Failure.server_error(500), times=1000)

    await reply(redis, "Вот", [photo(PHOTO_1), photo(PHOTO_2), report(caption="c" * 2000)])
    await fake_telegram.wait_for_call("sendDocument", timeout=20)
    victim.kill()
    fake_telegram.clear_failures()
    relay_process(start_service, "relay-heir", po_contract)

    await fake_telegram.wait_for(
        lambda: uploads(fake_telegram, "sendDocument") == 1, timeout=60, what="the document"
    )
    sent = await fake_telegram.wait_for_messages(CHAT, 6, timeout=20)
    assert [shown(m, fake_telegram) for m in sent[1:]] == [
        "Вот",
        ("photo", PHOTO_1),
        ("photo", PHOTO_2),
        ("document", REPORT),
        "c" * 2000,
    ]
    assert (uploads(fake_telegram, "sendMediaGroup"), uploads(fake_telegram, "sendDocument")) == (
        1,
        1,
    )
