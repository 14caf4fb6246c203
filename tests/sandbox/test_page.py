"""The sandbox as a newcomer meets it: the real command, the page in headless Chromium.

One sandbox serves the whole module (it takes seconds to start); each test
opens the page afresh. The last test stops it with Ctrl-C's SIGINT and
checks that nothing it started is left. Waits are on page conditions and on
the sandbox's output, never on fixed sleeps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from services.fakes.redis_server import free_port
from services.fakes.workers.files import DEMO_TEXT, demo_png
from services.sandbox.world import STRANGER_ID
from shared.texts import RU
from tests.sandbox.chat_page import (
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    STARTUP_S,
    STOP_S,
    ChatPage,
    require_browser,
)
from tests.sandbox.running import Sandbox, descendants

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmpdir = tmp_path_factory.mktemp("sandbox-tmp")
    # Its own redis-server, as on a newcomer's machine, whatever Redis the tests use.
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTEST_CURRENT_TEST")}
    running = Sandbox(free_port(), env, tmpdir)
    try:
        running.wait_for_line(rf"Open {running.url} ", timeout=STARTUP_S)
        yield running
    finally:
        running.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    require_browser()
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # An explicit driver path: Selenium Manager (which downloads drivers) is never asked.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, sandbox: Sandbox) -> ChatPage:
    return ChatPage(browser, sandbox)


def test_a_regular_user_writes_and_reads_the_po_reply(page: ChatPage) -> None:
    page.open_as("user")

    page.write("hello from the browser")

    page.wait_for_bot_message("echo: hello from the browser")


def test_a_quick_command_button_answers_from_the_api(page: ChatPage) -> None:
    page.open_as("user")

    page.press('.quick[data-command="/projects"]')

    page.wait_for_bot_message("shop", "blog")  # the user's seeded projects


def test_the_reply_keyboard_comes_with_start_and_a_press_sends_its_label(page: ChatPage) -> None:
    labels = RU.buttons
    page.open_as("user")
    before = page.last_message_id()

    page.write("/start")

    page.wait_for_bot_message(RU.help.splitlines()[0], after=before)
    rows = [[labels["projects"], labels["tasks"]], [labels["help"]]]  # a user's: no servers
    page.wait_until(lambda: page.reply_keyboard() == rows, f"the reply keyboard {rows}")
    placeholder = page.driver.find_element(By.ID, "message-input").get_attribute("placeholder")
    assert placeholder == RU.keyboard_placeholder
    before = page.last_message_id()

    page.press_reply_button(labels["projects"])

    page.wait_for_user_message(labels["projects"], after=before)  # the label, exactly
    page.wait_for_bot_message("shop", "blog", after=before)  # answered from the API
    assert page.reply_keyboard() == rows  # persistent: still there after the press


def test_a_picked_image_shows_as_a_photo_and_any_other_file_as_a_named_bubble(
    page: ChatPage, tmp_path: Path
) -> None:
    image = tmp_path / "screenshot.png"
    image.write_bytes(demo_png(96, 64))
    notes = tmp_path / "notes.md"
    notes.write_bytes(b"# twelve b\n\n")
    page.open_as("user")
    before = page.last_message_id()

    page.driver.find_element(By.ID, "message-input").send_keys("the broken page")
    page.attach(image)
    page.attach(notes)

    expected = [
        {"photo": [96, 64], "file": None, "caption": "the broken page"},
        {"photo": None, "file": ["notes.md", "12 B"], "caption": ""},
    ]
    page.wait_until(lambda: page.media("user", before) == expected, f"my files {expected}")


def test_demo_file_gets_the_pos_answer(page: ChatPage) -> None:
    page.open_as("user")
    before = page.last_message_id()

    page.press('.quick[data-command="demo file"]')

    page.wait_for_bot_message(DEMO_TEXT, after=before)


def test_a_stranger_is_turned_away(page: ChatPage) -> None:
    page.open_as("stranger")

    page.write("let me in")

    page.wait_for_bot_message(RU.access_denied, str(STRANGER_ID))


def test_the_admin_is_told_about_a_published_provisioning_result(page: ChatPage) -> None:
    page.open_as("admin")

    for button, status in (("#provision-success", "success"), ("#provision-failure", "failed")):
        page.press(button)
        handle = page.wait_for_published(status)

        page.wait_for_bot_message(handle)


# --- the page feels like Telegram (issue 18) ---------------------------------------------


def test_messages_show_their_time_under_a_day_separator(page: ChatPage) -> None:
    page.open_as("user")

    page.write("what time is it?")

    page.wait_for_bot_message("echo: what time is it?")
    shown = page.driver.execute_script(
        "const items = [...document.querySelectorAll('#messages > li')];"
        "return {first: items[0].className + ' ' + items[0].innerText,"
        "        times: items.filter(e => e.matches('.message'))"
        "          .map(e => e.querySelector('.meta time').textContent)}"
    )
    assert shown["first"] == "day Сегодня"  # Linus's Telegram is in Russian
    assert shown["times"]
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in shown["times"])
    page.driver.execute_script("document.getElementById('messages').scrollTop = 0")
    page.screenshot("times")  # the day's separator on top


def test_a_link_in_the_bot_s_reply_is_clickable(page: ChatPage) -> None:
    page.open_as("user")
    before = page.last_message_id()

    page.write("the docs: https://example.org/docs/start, or example.com.")

    page.wait_for_bot_message("https://example.org/docs/start", after=before)
    links = page.driver.execute_script(
        "const [after] = arguments;"
        "return [...document.querySelectorAll('#messages .message.bot')]"
        ".filter(e => Number(e.dataset.messageId) > after)"
        ".flatMap(e => [...e.querySelectorAll('a')].map(a => [a.innerText, a.href, a.target]))",
        before,
    )
    assert links == [
        ["https://example.org/docs/start", "https://example.org/docs/start", "_blank"],
        ["example.com", "https://example.com/", "_blank"],
    ]
    page.screenshot("links")


def test_a_long_message_goes_as_several_and_the_whole_reply_shows(page: ChatPage) -> None:
    words = " ".join(f"w{n:04d}" for n in range(1, 834))  # 4,997 characters
    page.open_as("user")
    before = page.last_message_id()

    page.driver.execute_script(
        "document.getElementById('message-input').value = arguments[0]",
        words,
    )
    page.press("#send")

    page.wait_until(lambda: len(page.messages("user", before)) == 2, "my text in two messages")
    sent = page.messages("user", before)
    assert all(len(part) <= 4096 for part in sent)
    assert " ".join(sent) == words  # cut at a space, nothing lost

    def reply() -> str:  # every part of the echo, without "echo: " and the spacing
        parts = [m for m in page.messages("bot", before) if re.fullmatch(r"(echo: )?[w\d ]+", m)]
        return "".join(parts).replace("echo:", "").replace(" ", "")

    page.wait_until(lambda: reply() == words.replace(" ", ""), "the whole echo, in parts")
    page.screenshot("long-message")


def test_a_person_with_25_projects_pages_through_them(page: ChatPage) -> None:
    page.open_as("margaret")
    before = page.last_message_id()

    page.press('.quick[data-command="/projects"]')

    first = page.wait_for_bot_message("project-01", after=before)
    assert "project-25" not in first
    buttons = page.driver.find_elements(
        By.CSS_SELECTOR, f'.message.bot[data-message-id="{page.last_message_id()}"] button'
    )
    (forward,) = [button for button in buttons if button.text == "▶"]
    forward.click()
    page.wait_until(
        lambda: any("project-11" in m for m in page.messages("bot", before)), "the second page"
    )
    page.screenshot("pagination")


def test_the_page_fits_a_400_pixel_wide_window(page: ChatPage) -> None:
    page.driver.set_window_size(400, 800)
    try:
        page.open_as("user")
        page.wait_until(lambda: page.messages("bot"), "the chat drawn")

        layout = page.driver.execute_script(
            "const box = (id) => document.getElementById(id).getBoundingClientRect();"
            "return {page: document.documentElement.scrollWidth,"
            "        window: document.documentElement.clientWidth,"
            "        send: box('send').right, input: box('message-input').width,"
            "        chat: box('chat').width}"
        )
        page.screenshot("narrow")
    finally:
        page.driver.set_window_size(1280, 900)
    assert layout["window"] <= 400
    assert layout["page"] <= layout["window"]  # nothing scrolls sideways
    assert layout["send"] <= layout["window"]
    assert layout["input"] >= 120  # room to type
    assert layout["chat"] >= layout["window"] - 40


def test_an_english_persona_gets_the_page_in_english_and_a_start_button(page: ChatPage) -> None:
    page.open_as("emma")
    assert page.driver.execute_script("return document.documentElement.lang") == "en"
    keys = page.driver.execute_script("return [Object.keys(UI.ru), Object.keys(UI.en)]")
    assert sorted(keys[0]) == sorted(keys[1])  # every word of the page in both languages
    assert page.text_of("send") == "Send"
    page.wait_until(lambda: page.driver.find_element(By.ID, "start").is_displayed(), "START")
    assert page.text_of("start") == "START"
    page.screenshot("start")

    page.press("#start")

    page.wait_for_user_message("/start")
    page.wait_until(lambda: page.messages("bot"), "the bot's greeting")
    assert not page.driver.find_element(By.ID, "start").is_displayed()


def test_the_menu_offers_the_bot_s_commands_and_a_stranger_gets_no_chips(page: ChatPage) -> None:
    page.open_as("user")
    page.press("#menu-button")

    page.wait_until(lambda: page.driver.find_elements(By.CSS_SELECTOR, "#command-menu li"), "menu")
    offered = page.driver.execute_script(
        "return [...document.querySelectorAll('#command-menu li')].map(e => e.dataset.command)"
    )
    assert {"projects", "tasks", "help"} <= set(offered)
    assert "servers" not in offered  # the menu is everyone's; a user is not offered /servers
    page.screenshot("menu")

    page.open_as("stranger")
    page.wait_until(lambda: page.driver.find_element(By.ID, "menu-button").is_displayed(), "/")
    assert page.driver.find_elements(By.CSS_SELECTOR, "#quick .quick") == []


def test_an_emoji_is_drawn_in_colour_not_as_an_empty_box(page: ChatPage) -> None:
    page.open_as("user")

    # Drawn with the page's own fonts, once the browser has loaded the one for emoji.
    coloured = page.driver.execute_async_script(
        "const [emoji, done] = arguments;"
        "const font = '40px ' + getComputedStyle(document.body).fontFamily;"
        "document.fonts.load(font, emoji).then(() => {"
        "  const canvas = document.createElement('canvas');"
        "  canvas.width = canvas.height = 64;"
        "  const context = canvas.getContext('2d');"
        "  context.font = font;"
        "  context.fillText(emoji, 4, 48);"
        "  const pixels = context.getImageData(0, 0, 64, 64).data;"
        "  let count = 0;"
        "  for (let i = 0; i < pixels.length; i += 4) {"
        "    const [r, g, b, a] = pixels.slice(i, i + 4);"
        "    if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 60) count++;"
        "  }"
        "  done(count);"
        "});",
        "😀",
    )

    assert coloured > 100, "the emoji font is missing: `make browser` installs it"


def test_ctrl_c_stops_every_process_and_removes_the_temporary_files(sandbox: Sandbox) -> None:
    started = descendants(sandbox.pid)
    commands = [proc.command for proc in started]
    for expected, count in (
        ("supervisord", 1),
        ("redis-server", 1),
        ("telegram-bot ingress", 1),
        ("telegram-bot relay", 2),
        ("telegram-bot notifier", 1),
    ):
        assert sum(expected in c for c in commands) == count, (expected, commands)

    code = sandbox.interrupt(timeout=STOP_S)

    assert code == 0, sandbox.output()
    assert [proc for proc in started if proc.alive()] == []
    assert list(sandbox.tmpdir.iterdir()) == []
    assert sandbox.output().rstrip().endswith("Stopped.")
