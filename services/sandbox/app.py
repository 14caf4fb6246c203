"""``telegram-bot sandbox``: the whole bot on one machine, offline, with a web chat page.

What runs, in start order (stopped in reverse):

1. the fake Telegram Bot API on ``SANDBOX_HOST:SANDBOX_PORT``, which also
   serves the page (``page``) and its ``/_sandbox`` API;
2. Redis: ``REDIS_URL`` when set, else a ``redis-server`` of our own;
3. the fake backend API, seeded with an admin, a user, projects, servers
   and tasks (``world``);
4. the fake worker-manager in the ``SANDBOX_PO_CONTRACT`` profile, whose PO
   workers echo, except for the people with a persona (``world``);
5. supervisord running the real ``ingress``, two ``relay``s and the ``notifier``
   (both with that ``PO_CONTRACT``), each its own process, pointed at the fakes;
   and the ``files`` process, serving the PO the files users send, when this
   build has it (``telegram-bot files``), with a signing key made for the run.

SIGINT (Ctrl-C) or SIGTERM stops them all and removes the temporary
directory: supervisord stops its programs first, Redis goes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.fakes.api import FakeApi
from services.fakes.lifecycle import StartStop
from services.fakes.po_service import FakePOService
from services.fakes.redis_server import free_port
from services.fakes.telegram import FakeTelegram
from services.fakes.workers import FakeWorkerManager, personas
from services.sandbox import page, provisioning
from services.sandbox.embedded_redis import EmbeddedRedis, RedisFailed
from services.sandbox.menu import menu_for
from services.sandbox.provisioning import Outcome
from services.sandbox.settings import SandboxSettings, load
from services.sandbox.supervisor import Supervisor
from services.sandbox.world import PEOPLE, Person, populate, reminders
from services.sandbox.world import personas as personas_of
from shared import log
from shared.schemas import ProvisionerResult
from shared.settings import SettingsError
from shared.stopping import install_stop_signals, pause

logger = log.get_logger(__name__)

RELAYS: Final = 2
BOT_NAME: Final = "Dev Team Bot"
BOT_USERNAME: Final = "dev_team_bot"
"""What the page shows as the bot's name (its avatar: the initials)."""
READY_TIMEOUT_S: Final = 60.0
TYPING_SHOWN_S: Final = 5.0
SENDS: Final = frozenset(
    {
        "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendAudio",
        "sendVoice", "sendVideo", "sendAnimation", "sendVideoNote",
    }
)  # fmt: skip
"""The methods whose message ends the chat action shown (typing, sending a photo...)."""
EXIT_CONFIG: Final = 2
EXIT_FAILED: Final = 1


def bot_environment(
    *, token: str, telegram_api_url: str, api_url: str, redis_url: str, log_level: str
) -> dict[str, str]:
    """The environment of ingress, relays and notifier: the fakes, nothing else."""
    return {
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": telegram_api_url,
        "API_URL": api_url,
        "REDIS_URL": redis_url,
        "LOG_FORMAT": "console",
        "LOG_LEVEL": log_level,
    }


def files_process_available() -> bool:
    """This build has the ``files`` process (``telegram-bot files``, issue 16)."""
    from services.cli import COMMANDS  # light: names and descriptions only

    return "files" in COMMANDS


def files_environment(*, signing_key: str, public_url: str) -> dict[str, str]:
    """What every process is told when the ``files`` process runs: the ingress signs the
    links with the key, the files process checks them; the PO fetches from ``public_url``."""
    return {"FILES_SIGNING_KEY": signing_key, "FILES_PUBLIC_URL": public_url}


def relay_environment(*, po_contract: str) -> dict[str, str]:
    """What only the relays and the notifier are told, on top of ``bot_environment``."""
    return {"PO_CONTRACT": po_contract}


class StartError(Exception):
    """Something the person running the sandbox can fix; the message says how."""


class Sandbox:
    """Everything that runs; ``async with Sandbox.running(settings) as sandbox``."""

    def __init__(self, settings: SandboxSettings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self.telegram = FakeTelegram(
            host=settings.sandbox_host,
            port=settings.sandbox_port,
            routes=page.routes(self),
            bot_name=BOT_NAME,
            bot_username=BOT_USERNAME,
        )
        self.api = FakeApi()
        self.redis_url = settings.redis_url or ""
        self.embedded_redis: EmbeddedRedis | None = None
        self.supervisor: Supervisor | None = None
        self._redis: aioredis.Redis | None = None
        self._ingress_polled = False
        self.files_port = free_port() if files_process_available() else None
        """Where the ``files`` process listens (on this machine only); None: not run."""
        self._files_key = secrets.token_urlsafe(32)  # one run's links; never shown

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, settings: SandboxSettings) -> AsyncIterator[Sandbox]:
        async with contextlib.AsyncExitStack() as stack:
            workdir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="telegram-bot-sandbox-")
            )
            sandbox = cls(settings, Path(workdir))
            await sandbox._start(stack)
            yield sandbox

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        # The page's port first: the likeliest problem, found before anything is started.
        try:
            await self.telegram.start()
        except OSError as exc:
            raise StartError(
                f"cannot listen on {self.settings.sandbox_host}:{self.settings.sandbox_port} "
                f"({exc.strerror or exc}): set SANDBOX_PORT to a free port"
            ) from None
        stack.push_async_callback(self.telegram.stop)

        if not self.redis_url:
            self.embedded_redis = EmbeddedRedis(self.workdir)
            stack.push_async_callback(self.embedded_redis.stop)
            try:
                await self.embedded_redis.start()
            except RedisFailed as exc:
                raise StartError(str(exc)) from None
            self.redis_url = self.embedded_redis.url
        self._redis = aioredis.Redis.from_url(self.redis_url)
        stack.push_async_callback(self._redis.aclose)
        await self._prepare_redis(self._redis)

        await stack.enter_async_context(self.api)
        populate(self.api, self.telegram)
        await stack.enter_async_context(self._fake_po())

        self.supervisor = Supervisor(
            self.workdir,
            self.process_env(),
            relays=RELAYS,
            relay_env=relay_environment(po_contract=self.settings.sandbox_po_contract),
            # The notifier delivers the PO service's own messages in ``po-service``.
            notifier_env=relay_environment(po_contract=self.settings.sandbox_po_contract),
            files_env=None if self.files_port is None else {"FILES_LISTEN": self._files_listen},
        )
        stack.push_async_callback(self.supervisor.stop)
        await self.supervisor.start()

    def _fake_po(self) -> StartStop:
        """The PO side the relays talk to, in the profile ``SANDBOX_PO_CONTRACT`` names.

        ``po-service`` has one PO for everyone, which echoes; Alan's reminder comes
        from it on ``po:proactive``, for the notifier to deliver.
        """
        profile = self.settings.fake_po_profile
        if profile is None:
            assert self._redis is not None
            return FakePOService(self._redis, reminders=reminders())
        workers = FakeWorkerManager(self.redis_url, profile=profile)
        for user_id, persona in personas_of(self.api).items():
            workers.scripts[user_id] = personas.script(persona)
        return workers

    async def _prepare_redis(self, redis: aioredis.Redis) -> None:
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            raise StartError(f"Redis at REDIS_URL does not answer: {type(exc).__name__}") from None
        # No consumer group made here: the notifier's own starts NOTIFIER_BACKFILL_S
        # back, so a result published from the page before it is up still reaches the admins.

    # --- what the processes are told ---------------------------------------------

    @property
    def local_url(self) -> str:
        """The fake Telegram (and the page), as this machine reaches it."""
        host = self.settings.sandbox_host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.telegram.port}"

    @property
    def _files_listen(self) -> str:
        return f"127.0.0.1:{self.files_port}"

    def process_env(self) -> dict[str, str]:
        environment = bot_environment(
            token=self.telegram.token,
            telegram_api_url=self.local_url,
            api_url=self.api.url,
            redis_url=self.redis_url,
            log_level=self.settings.log_level,
        )
        return environment | self.files_env()

    def files_env(self) -> dict[str, str]:
        """What every process is told of the ``files`` process; empty when it does not run."""
        if self.files_port is None:
            return {}
        public_url = f"http://{self._files_listen}"
        return files_environment(signing_key=self._files_key, public_url=public_url)

    # --- the page's backend (page.Backend) ----------------------------------------

    @property
    def people(self) -> Sequence[Person]:
        return PEOPLE

    def chat(self, telegram_id: int) -> dict[str, Any]:
        # The version lets the page wait for the next change without missing one.
        actions = self.telegram.chat(telegram_id).actions
        language = self.telegram.user(telegram_id).get("language_code")
        bot = self.telegram.bot_user
        return {
            **self.telegram.chat(telegram_id).to_json(),
            "bot": {"first_name": bot["first_name"], "username": bot["username"]},
            "language_code": language,
            "menu": menu_for(self.telegram.commands, telegram_id, language),
            "now": self.telegram.clock(),
            "typing_s": self._typing_left(telegram_id),
            "action": actions[-1].action if actions else None,
            "version": self.telegram.version,
        }

    def _typing_left(self, chat_id: int) -> float:
        """How much longer Telegram would show the bot's last chat action ("typing…",
        "sending a photo…"): 5 s per action, ended by a message."""
        actions = self.telegram.chat(chat_id).actions
        if not actions:
            return 0.0
        since = actions[-1].time
        for call in reversed(self.telegram.calls):
            if call.finished < since:
                break
            if call.chat_id == chat_id and call.method in SENDS and call.status == 200:
                return 0.0
        return max(0.0, since + TYPING_SHOWN_S - self.telegram.clock())

    async def status(self) -> dict[str, Any]:
        states = await self.supervisor.states() if self.supervisor is not None else {}
        self._ingress_polled = self._ingress_polled or await self._ingress_polls()
        running = bool(states) and all(state == "RUNNING" for state in states.values())
        return {
            "ready": running and self._ingress_polled,
            "processes": states,
            "ingress_polling": self._ingress_polled,
        }

    async def _ingress_polls(self) -> bool:
        # A getUpdates long poll is recorded as a call only when it ends (30 s):
        # ask whether one is waiting now.
        try:
            await self.telegram.wait_for_poller(timeout=0)
        except TimeoutError:
            return bool(self.telegram.calls_to("getUpdates"))
        return True

    async def publish(self, outcome: Outcome) -> ProvisionerResult:
        assert self._redis is not None
        result = provisioning.example_result(outcome)
        entry_id = await provisioning.publish(self._redis, result)
        logger.info(
            "provisioning_result_published",
            entry_id=entry_id,
            server_handle=result.server_handle,
            status=result.status,
        )
        return result

    async def wait_ready(self, stop: asyncio.Event, timeout: float) -> bool:
        """True once every process runs and the ingress polls; False on stop or timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # supervisord sends no event we could await here without an event
        # listener process: ask it a few times a second.
        while not stop.is_set() and loop.time() < deadline:
            if (await self.status())["ready"]:
                return True
            await pause(stop, 0.2)
        return False

    def banner(self, ready: bool, states: dict[str, str]) -> str:
        redis = "its own redis-server" if self.embedded_redis else "the Redis at REDIS_URL"
        lines = [
            "",
            "  The bot is running on this machine, offline: Telegram, the API and the",
            "  PO workers are fakes; ingress, 2 relays and the notifier are the real thing.",
            "",
            f"  Open {self.local_url} and pick who you are: Ada (admin), Linus (user)",
            "  or a stranger. Write to the bot, try /projects /servers /tasks /help, and",
            "  publish a provisioning result to see what admins are told. Grace's PO",
            "  streams its reply slowly; Alan's writes again by itself a minute later.",
            "  Emma's Telegram is in English; Margaret has 25 projects to page through.",
            f"  The PO side speaks PO_CONTRACT={self.settings.sandbox_po_contract}.",
            "",
            f"  Processes run under supervisord and use {redis}; their logs follow.",
            "  Ctrl-C stops everything.",
            "",
        ]
        if not ready:
            waiting = ", ".join(f"{n} {s}" for n, s in sorted(states.items()) if s != "RUNNING")
            lines[-1:-1] = [
                "",
                f"  Not everything is up yet ({waiting or 'the ingress is not polling'}):",
                "  the page shows when it is, and the logs say why not.",
            ]
        return "\n".join(lines)


async def run(settings: SandboxSettings) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    print(
        "  Starting the sandbox: Redis, the fakes, then the bot's four processes\n"
        "  (a few seconds each; what to open follows once they are up).",
        flush=True,
    )
    try:
        async with Sandbox.running(settings) as sandbox:
            assert sandbox.supervisor is not None
            ready = await sandbox.wait_ready(stop, READY_TIMEOUT_S)
            if not stop.is_set():
                states = await sandbox.supervisor.states()
                print(sandbox.banner(ready, states), flush=True)
            supervisord = asyncio.create_task(sandbox.supervisor.exited())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({supervisord, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if supervisord.done():
                logger.error("supervisord_exited", exit_code=supervisord.result())
                return EXIT_FAILED
            supervisord.cancel()
            print("\n  Stopping the sandbox...", flush=True)
    except StartError as exc:
        print(f"telegram-bot sandbox: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print("  Stopped.", flush=True)
    return 0


def main() -> int:
    """The ``telegram-bot sandbox`` command; returns the exit status."""
    try:
        settings = load()
    except SettingsError as exc:
        print(f"telegram-bot sandbox: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    log.configure("sandbox", level=settings.log_level, fmt="console")
    return asyncio.run(run(settings))
