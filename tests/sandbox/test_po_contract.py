"""``SANDBOX_PO_CONTRACT``: the real command, its relays and fake PO speaking another profile.

One test per profile besides ``seed``, and slow: the sandbox starts four Python processes.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any

import pytest

from services.fakes.redis_server import free_port
from services.sandbox.world import USER_ID
from tests.sandbox.running import Sandbox

pytestmark = pytest.mark.timeout(300)

STARTUP_S = 150.0
"""As in ``test_page``: four processes import aiogram at once on a busy machine."""
REPLY_S = 30.0
STOP_S = 40.0


def call(url: str, body: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    # Only http:// URLs of the sandbox this test started.
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def wait_for_text(sandbox: Sandbox, chat_id: int, text: str, timeout: float) -> None:
    """Block until a message ``text`` is in the chat, on the fake's change notifications."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chat = call(f"{sandbox.url}/_sandbox/chats/{chat_id}")
            if any(m.get("text") == text for m in chat["messages"]):
                return
            call(f"{sandbox.url}/_fake/wait?after={chat['version']}&timeout=5", timeout=15)
    except OSError as exc:
        raise AssertionError(
            f"the sandbox stopped answering ({exc}):\n{sandbox.output()}"
        ) from None
    raise AssertionError(f"{text!r} never reached chat {chat_id}:\n{sandbox.output()}")


@pytest.mark.parametrize("contract", ["worker-streams", "po-service"])
def test_in_another_profile_a_message_is_echoed_through_the_real_relays(
    contract: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A short TMPDIR: supervisord's unix socket path must fit in 108 bytes.
    tmpdir = tmp_path_factory.mktemp("sandbox-tmp")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTEST_CURRENT_TEST")}
    sandbox = Sandbox(free_port(), {**env, "SANDBOX_PO_CONTRACT": contract}, tmpdir)
    try:
        sandbox.wait_for_line(rf"Open {sandbox.url} ", timeout=STARTUP_S)
        sandbox.wait_for_line(rf"The PO side speaks PO_CONTRACT={contract}\.", timeout=1)

        try:
            call(f"{sandbox.url}/_fake/chats/{USER_ID}/messages", {"text": f"hello, {contract}"})
        except OSError as exc:
            raise AssertionError(f"cannot write ({exc}):\n{sandbox.output()}") from None

        wait_for_text(sandbox, USER_ID, f"echo: hello, {contract}", REPLY_S)
        assert sandbox.interrupt(timeout=STOP_S) == 0
    finally:
        sandbox.kill()
