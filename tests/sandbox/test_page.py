"""The sandbox as a newcomer meets it: the real command, the page in headless Chromium.

One sandbox serves the whole module (it takes seconds to start); each test
opens the page afresh. The last test stops it with Ctrl-C's SIGINT and
checks that nothing it started is left. Waits are on page conditions and on
the sandbox's output, never on fixed sleeps.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from services.fakes.redis_server import free_port
from services.fakes.workers.files import DEMO_TEXT, demo_png
from services.sandbox.world import STRANGER_ID
from shared.texts import RU
from tests.sandbox.running import Sandbox, descendants

pytestmark = pytest.mark.timeout(300)

STARTUP_S = 150.0
"""Four Python processes import aiogram at once: tens of seconds on a busy 2-core machine."""
REPLY_S = 30.0
STOP_S = 40.0

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Without the background-networking flags Chromium keeps calling out to a
# network this machine does not have.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


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


def _require_browser() -> None:
    """Skip on a machine without the browser; fail in CI, where this test must run."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if not missing:
        return
    reason = (
        f"{' and '.join(missing)} missing: `make browser` installs chromium and chromium-driver"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser test)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    _require_browser()
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


class ChatPage:
    """The page, driven as a person would: pick someone, write, press buttons, read."""

    def __init__(self, driver: WebDriver, sandbox: Sandbox) -> None:
        self.driver = driver
        self.sandbox = sandbox

    def open_as(self, role: str) -> None:
        self.driver.get(self.sandbox.url)
        self.wait_until(
            lambda: self.driver.find_element(By.ID, "status").get_attribute("data-ready") == "true",
            "the page says the bot is up",
            STARTUP_S,  # the banner comes after a minute even if the bot is not up yet
        )
        self.wait_until(lambda: self.driver.find_elements(By.ID, f"person-{role}"), role)
        self.driver.find_element(By.ID, f"person-{role}").click()
        self.wait_until(lambda: f"({role})" in self.text_of("chat-title"), f"chatting as {role}")

    def write(self, text: str) -> None:
        self.driver.find_element(By.ID, "message-input").send_keys(text)
        self.driver.find_element(By.ID, "send").click()

    def press(self, css: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, css).click()

    def text_of(self, element_id: str) -> str:
        return str(self.driver.find_element(By.ID, element_id).text)

    def messages(self, sender: str = "bot", after: int = 0) -> list[str]:
        """The texts of ``sender``'s messages (``bot`` or ``user``) with ids above ``after``."""
        # One script call: the page redraws the chat on every change, so
        # element handles would go stale between two calls.
        texts = self.driver.execute_script(
            "const [sender, after] = arguments;"
            "return [...document.querySelectorAll(`#messages .message.${sender}:not(.draft)`)]"
            ".filter(e => Number(e.dataset.messageId) > after).map(e => e.innerText)",
            sender,
            after,
        )
        return [str(text) for text in texts]

    def bot_messages(self) -> list[str]:
        return self.messages("bot")

    def last_message_id(self) -> int:
        """The newest message's id on the page (0 if none): what a later wait is ``after``."""
        ids = self.driver.execute_script(
            "return [...document.querySelectorAll('#messages .message[data-message-id]')]"
            ".map(e => Number(e.dataset.messageId))"
        )
        return max((int(i) for i in ids), default=0)

    def wait_for_bot_message(self, *parts: str, after: int = 0) -> str:
        """The first bot message (id above ``after``) holding all of ``parts``, once shown."""

        def found() -> str | None:
            messages = self.messages("bot", after)
            return next((m for m in messages if all(p in m for p in parts)), None)

        self.wait_until(found, f"a bot message with {parts}", REPLY_S)
        message = found()
        assert message is not None
        return message

    def wait_for_user_message(self, text: str, after: int = 0) -> None:
        """The person's message ``text`` (id above ``after``), once the fake Telegram has it."""
        self.wait_until(lambda: text in self.messages("user", after), f"my message {text!r}")

    def attach(self, path: Path) -> None:
        """Pick ``path`` with the paperclip's file chooser (the text box becomes its caption)."""
        self.driver.find_element(By.ID, "file-input").send_keys(str(path))

    def media(self, sender: str, after: int = 0) -> list[dict[str, object]]:
        """``sender``'s messages with a file: a photo (loaded: its natural size) or a file
        bubble (its name and details), with the caption."""
        found = self.driver.execute_script(
            "const [sender, after] = arguments;"
            "return [...document.querySelectorAll(`#messages .message.media.${sender}`)]"
            ".filter(e => Number(e.dataset.messageId) > after).map(e => {"
            "  const img = e.querySelector('img.photo');"
            "  const file = e.querySelector('.file');"
            "  const caption = e.querySelector('.caption');"
            "  const parts = file ? [...file.querySelectorAll('strong, small')] : null;"
            "  return {photo: img ? [img.complete ? img.naturalWidth : 0,"
            "                        img.complete ? img.naturalHeight : 0] : null,"
            "          file: parts ? parts.map(t => t.innerText) : null,"
            "          caption: caption ? caption.innerText : ''};"
            "})",
            sender,
            after,
        )
        return list(found)

    def reply_keyboard(self) -> list[list[str]]:
        """The reply keyboard's rows of labels as shown under the input; [] when none is."""
        rows = self.driver.execute_script(
            "const box = document.getElementById('reply-keyboard');"
            "if (box.hidden || !box.offsetParent) return [];"
            "return [...box.querySelectorAll('.row')]"
            ".map(row => [...row.querySelectorAll('button')].map(b => b.innerText))"
        )
        return [[str(label) for label in row] for row in rows]

    def press_reply_button(self, label: str) -> None:
        buttons = self.driver.find_elements(By.CSS_SELECTOR, "#reply-keyboard button")
        matching = [button for button in buttons if button.text == label]
        assert len(matching) == 1, (label, [button.text for button in buttons])
        matching[0].click()

    def wait_for_published(self, status: str) -> str:
        """The server handle of the newest result the page published, once it says so."""
        self.wait_until(
            lambda: f": {status} published" in self.text_of("published").split("\n")[0],
            f"a {status} result published",
        )
        return self.text_of("published").split(":")[0]

    def wait_until(self, condition: Callable[[], object], what: str, timeout: float = 30) -> None:
        try:
            WebDriverWait(self.driver, timeout).until(lambda _driver: condition())
        except TimeoutException:
            raise AssertionError(
                f"never on the page: {what}\nbot messages: {self.bot_messages()}\n"
                f"sandbox output (last lines):\n{self.sandbox.output()[-6000:]}"
            ) from None


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
