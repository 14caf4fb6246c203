"""The ``telegram-bot`` command: one subcommand per process, plus the sandbox.

Configuration comes from environment variables (see the README's table),
not from flags, so the same image runs anywhere; ``--help`` says what each
process does. ``COMMANDS`` are the product's processes (what a deployment
runs); ``TOOLS`` are commands around them, with settings of their own.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from shared import entrypoint


class Command(NamedTuple):
    package: str
    """Holds ``settings.Settings`` (light) and ``app.serve`` (imports aiogram, slow)."""
    summary: str
    description: str


COMMANDS = {
    "ingress": Command(
        "services.ingress",
        "receive Telegram updates: auth, quick commands, queue chat messages",
        "The only process that receives Telegram updates, by long polling "
        "(INGRESS_MODE=polling, the default: run exactly one) or as a webhook "
        "(INGRESS_MODE=webhook: any number behind a load balancer). It checks every "
        "sender against the backend API, rejects strangers, answers quick commands "
        "and queues chat messages from known users in Redis for the relays.",
    ),
    "relay": Command(
        "services.relay",
        "connect users to their PO workers and deliver the replies",
        "Takes queued chat messages, finds or spawns the user's PO worker "
        "(worker:commands), forwards the message to it, and sends its replies back "
        "to Telegram. Any number of relays can run.",
    ),
    "notifier": Command(
        "services.notifier",
        "tell admins about every server provisioning result",
        "Consumes provisioner:results with the consumer group telegram-bot and "
        "sends each result to every admin (API admins plus ADMIN_TELEGRAM_IDS). "
        "With PO_CONTRACT=po-service it also delivers the PO service's own messages "
        "(po:proactive) and tells the admins of those it gives up.",
    ),
    "files": Command(
        "services.files",
        "serve the files users send to the PO through signed, expiring links",
        "Serves GET /files/<file_id>?exp=...&sig=... on FILES_LISTEN (0.0.0.0:8081): "
        "checks the link's signature (FILES_SIGNING_KEY, required) and expiry, then "
        "streams the file from the Bot API (getFile, then the download) without ever "
        "showing the bot's token. A bad or expired link gets 403. Stateless: any number "
        "can run behind one address (FILES_PUBLIC_URL).",
    ),
}


class Tool(NamedTuple):
    module: str
    """Holds ``main() -> int``, which reads its own settings and returns the exit status."""
    summary: str
    description: str


TOOLS = {
    "sandbox": Tool(
        "services.sandbox.app",
        "run the whole bot offline on this machine, with a web chat page",
        "Starts Redis, fakes of Telegram, the backend API and the PO workers, and "
        "the real ingress, two relays and the notifier under supervisord, then "
        "serves a web page to chat with the bot as an admin, a user, two users whose "
        "PO streams slowly or writes again by itself, or a stranger. "
        "No token, no internet. SANDBOX_PORT (8080) and SANDBOX_HOST (127.0.0.1) "
        "say where the page is; REDIS_URL uses an existing Redis; SANDBOX_PO_CONTRACT "
        "(seed) picks the PO contract profile. Ctrl-C stops it all.",
    ),
}

EPILOG = "Configuration: environment variables; see the README's configuration table."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telegram-bot",
        description="The Telegram front door of the agent platform.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    entries: dict[str, Command | Tool] = {**COMMANDS, **TOOLS}
    for name, entry in entries.items():
        sub.add_parser(name, help=entry.summary, description=entry.description, epilog=EPILOG)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command in TOOLS:
        tool: Callable[[], int] = importlib.import_module(TOOLS[args.command].module).main
        sys.exit(tool())
    package = COMMANDS[args.command].package
    # Settings are checked before the app (and aiogram, seconds to import) is
    # loaded, so a configuration error is reported at once.
    settings_cls = importlib.import_module(f"{package}.settings").Settings
    entrypoint.run(
        args.command, settings_cls, lambda: importlib.import_module(f"{package}.app").serve
    )


def main_for(command: str) -> None:
    """``python -m services.<command>``: the same as ``telegram-bot <command>``."""
    main([command, *sys.argv[1:]])


if __name__ == "__main__":
    main()
