"""The sandbox's page driven in headless Chromium as a person would: ``ChatPage``.

Waits are on page conditions, never on fixed sleeps; a failed wait shows the bot's
messages and the sandbox's last output. Screenshots go to ``SCREENSHOTS``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.sandbox.running import Sandbox

STARTUP_S = 150.0
"""Four Python processes import aiogram at once: tens of seconds on a busy 2-core machine."""
REPLY_S = 30.0
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
"""Where the browser tests leave their screenshots (gitignored; CI keeps them)."""
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


def require_browser() -> None:
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
        self.wait_until(
            lambda: self.driver.find_element(By.ID, "chat").get_attribute("data-person") == role,
            f"chatting as {role}",
        )

    def screenshot(self, name: str) -> Path:
        """The page as it looks now, kept as a CI artefact (README, "Sandbox")."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), path
        return path

    def write(self, text: str) -> None:
        self.driver.find_element(By.ID, "message-input").send_keys(text)
        self.driver.find_element(By.ID, "send").click()

    def press(self, css: str) -> None:
        # Chips and buttons come with the chat (and the bot's menu): wait for them.
        self.wait_until(lambda: self.driver.find_elements(By.CSS_SELECTOR, css), css)
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
            ".filter(e => Number(e.dataset.messageId) > after).map(e => {"
            "  const meta = e.querySelector('.meta');"  # the time: not the message's text
            "  if (meta) meta.style.display = 'none';"
            "  const text = e.innerText;"
            "  if (meta) meta.style.display = '';"
            "  return text;"
            "})",
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
            lambda: f"«{status}»" in self.text_of("published").split("\n")[0],  # in Russian
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
