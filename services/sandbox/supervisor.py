"""The bot's processes under supervisord, as on a production host (``deploy/supervisord.conf``).

The sandbox writes a config into its temporary directory and runs
``supervisord -n -c ...`` as its child. supervisord gets a clean
environment: the fakes' URLs and token and nothing of the caller's (a real
``TELEGRAM_BOT_TOKEN`` or ``INGRESS_MODE=webhook`` in the caller's shell must
not leak into the sandbox). Its programs inherit that environment; the
relays add a ``RELAY_NAME`` each, and the relays and the notifier what only
they read (``PO_CONTRACT``).

Their logs reach the sandbox's stdout through a pipe the sandbox copies:
had supervisord opened ``/dev/stdout`` itself, a redirected stdout
(``make run > log``) would get two file offsets writing over each other.

Process states are read over supervisord's XML-RPC interface on a unix
socket, for the page's status line.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shlex
import sys
import xmlrpc.client  # only to our own supervisord, on a private socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import aiohttp

from services.sandbox import children
from shared.log import get_logger

log = get_logger(__name__)

STOP_TIMEOUT_S = 20.0
"""supervisord's deadline: its programs get ``stopwaitsecs`` (10 s), then SIGKILL."""

GROUP = "telegram-bot"
RPC_USER = "sandbox"

# What a process needs from the caller's environment to start at all.
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH")


class Program(NamedTuple):
    name: str
    """The ``telegram-bot`` subcommand, and the program's name."""
    numprocs: int


def programs(relays: int, *, files: bool = False) -> tuple[Program, ...]:
    """The bot's programs; ``files``: the ``files`` process too (when this build has it)."""
    bot = (Program("ingress", 1), Program("relay", relays), Program("notifier", 1))
    return (*bot, Program("files", 1)) if files else bot


def render_config(
    workdir: Path,
    cli: Sequence[str],
    relays: int,
    password: str,
    relay_env: Mapping[str, str] | None = None,
    notifier_env: Mapping[str, str] | None = None,
    files_env: Mapping[str, str] | None = None,
) -> str:
    """The supervisord config: the sections of ``deploy/supervisord.conf``, paths in ``workdir``.

    ``files_env``: run the ``files`` process too, told these variables (``FILES_LISTEN``).
    """
    bot = programs(relays, files=files_env is not None)
    lines = [
        "; Written by `telegram-bot sandbox`, removed when it stops.",
        "; Production runs deploy/supervisord.conf: the same programs.",
        "[supervisord]",
        "nodaemon=true",
        f"logfile={_escape(str(workdir / 'supervisord.log'))}",
        f"pidfile={_escape(str(workdir / 'supervisord.pid'))}",
        f"childlogdir={_escape(str(workdir))}",
        "loglevel=warn",
    ]
    if user := _current_user():
        # Naming the user it already runs as keeps supervisord from warning about root.
        lines.append(f"user={_escape(user)}")
    lines += [
        "",
        "[unix_http_server]",
        f"file={_escape(str(socket_path(workdir)))}",
        "chmod=0700",
        # A private socket already; the password keeps supervisord from warning.
        f"username={RPC_USER}",
        f"password={_escape(password)}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    ]
    # One group: supervisord stops a group's programs together, and waits a
    # second or more for each group before the next. Every process is safe to
    # stop at any point (what it had not finished is still in Redis).
    lines += ["", f"[group:{GROUP}]", f"programs={','.join(p.name for p in bot)}"]
    command = " ".join(shlex.quote(part) for part in cli)
    relay_values = "".join(f",{name}={_quoted(value)}" for name, value in (relay_env or {}).items())
    for program in bot:
        lines += ["", f"[program:{program.name}]", f"command={_escape(command)} {program.name}"]
        if program.numprocs > 1:
            lines += [
                "process_name=%(program_name)s-%(process_num)d",
                f"numprocs={program.numprocs}",
                "numprocs_start=1",
            ]
        if program.name == "relay":
            # Distinct consumer names: the relays share one consumer group.
            lines.append(f'environment=RELAY_NAME="sandbox-relay-%(process_num)d"{relay_values}')
        own = {"notifier": notifier_env, "files": files_env}.get(program.name)
        if own:
            values = ",".join(f"{name}={_quoted(value)}" for name, value in own.items())
            lines.append(f"environment={values}")
        lines += [
            "autorestart=true",
            "startsecs=1",
            "startretries=3",
            "stopsignal=TERM",
            "stopwaitsecs=10",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            # Not a seekable file: rotation must be off (supervisord's docs).
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
        ]
    return "\n".join(lines) + "\n"


def _current_user() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return None


def socket_path(workdir: Path) -> Path:
    return workdir / "supervisor.sock"


def environment(values: Mapping[str, str]) -> dict[str, str]:
    """supervisord's environment: ``values`` plus what starting a program needs (PATH...)."""
    inherited = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    return {**inherited, **values}


def _escape(value: str) -> str:
    # supervisord expands %(name)s in its values: a literal % is %%.
    return value.replace("%", "%%")


def _quoted(value: str) -> str:
    """A value in supervisord's ``environment=`` list: quoted, with % escaped."""
    if '"' in value or "," in value or "\n" in value:
        raise ValueError(f"cannot pass {value!r} in supervisord's environment")
    return f'"{_escape(value)}"'


def _next_to_python(script: str, module: str) -> list[str]:
    """The console script installed beside this interpreter, else ``python -m module``."""
    installed = Path(sys.executable).with_name(script)
    return [str(installed)] if installed.exists() else [sys.executable, "-m", module]


def telegram_bot_command() -> list[str]:
    return _next_to_python("telegram-bot", "services.cli")


class Supervisor:
    """One ``supervisord -n`` with the bot's programs; ``start``, ``states``, ``stop``."""

    def __init__(
        self,
        workdir: Path,
        env: Mapping[str, str],
        *,
        relays: int = 2,
        relay_env: Mapping[str, str] | None = None,
        notifier_env: Mapping[str, str] | None = None,
        files_env: Mapping[str, str] | None = None,
        echo: BinaryIO | None = None,
    ) -> None:
        """``relay_env``, ``notifier_env``: what only the relays, the notifier are told;
        ``files_env``: run the ``files`` process, told these; ``echo``: where the
        programs' and supervisord's output goes (the sandbox's stdout)."""
        self.workdir = workdir
        self.relays = relays
        self.relay_env = dict(relay_env or {})
        self.notifier_env = dict(notifier_env or {})
        self.files_env = None if files_env is None else dict(files_env)
        self.config_path = workdir / "supervisord.conf"
        self._env = environment(env)
        self._process: asyncio.subprocess.Process | None = None
        self._rpc: aiohttp.ClientSession | None = None
        self._password = secrets.token_urlsafe(16)
        self._echo = echo if echo is not None else sys.stdout.buffer
        self._copying: asyncio.Task[None] | None = None

    @property
    def program_names(self) -> list[str]:
        names = []
        for program in programs(self.relays, files=self.files_env is not None):
            if program.numprocs == 1:
                names.append(program.name)
            else:
                names += [f"{program.name}-{n}" for n in range(1, program.numprocs + 1)]
        return names

    async def start(self) -> None:
        self.config_path.write_text(
            render_config(
                self.workdir,
                telegram_bot_command(),
                self.relays,
                self._password,
                self.relay_env,
                self.notifier_env,
                self.files_env,
            )
        )
        supervisord = _next_to_python("supervisord", "supervisor.supervisord")
        self._process = await children.spawn(
            [*supervisord, "-n", "-c", str(self.config_path)],
            output="pipe",
            env=self._env,
            cwd=self.workdir,
        )
        assert self._process.stdout is not None
        self._copying = asyncio.create_task(_copy(self._process.stdout, self._echo))
        connector = aiohttp.UnixConnector(path=str(socket_path(self.workdir)))
        self._rpc = aiohttp.ClientSession(
            connector=connector, auth=aiohttp.BasicAuth(RPC_USER, self._password)
        )
        log.info("supervisord_started", pid=self._process.pid, programs=self.program_names)

    async def exited(self) -> int:
        """Wait until supervisord exits (it should not, until ``stop``)."""
        assert self._process is not None
        return await self._process.wait()

    async def states(self) -> dict[str, str]:
        """Each program's state (``STARTING``, ``RUNNING``, ``BACKOFF``, ``FATAL``...).

        Empty while supervisord is not answering yet.
        """
        try:
            infos = await self._call("supervisor.getAllProcessInfo")
        except (aiohttp.ClientError, OSError, xmlrpc.client.Error):
            return {}
        return {str(info["name"]): str(info["statename"]) for info in infos}

    async def _call(self, method: str) -> Any:
        assert self._rpc is not None
        body = xmlrpc.client.dumps((), method)
        async with self._rpc.post(
            "http://supervisord/RPC2",
            data=body,
            headers={"Content-Type": "text/xml"},
            timeout=aiohttp.ClientTimeout(total=5),
        ) as response:
            response.raise_for_status()
            (result,), _method = xmlrpc.client.loads(await response.read())
        return result

    async def stop(self) -> None:
        """SIGTERM to supervisord: it stops every program (in priority order), then exits."""
        if self._rpc is not None:
            await self._rpc.close()
            self._rpc = None
        if self._process is not None:
            code = await children.stop(self._process, "supervisord", timeout=STOP_TIMEOUT_S)
            if self._copying is not None:
                await self._copying  # the last lines: which program stopped how
            log.info("supervisord_stopped", exit_code=code)
            self._process = None


async def _copy(source: asyncio.StreamReader, sink: BinaryIO) -> None:
    """Line by line until the end, so lines of different programs never mix."""
    while True:
        try:
            line = await source.readline()
        except ValueError:  # longer than the reader's limit (1 MiB): dropped, not stuck
            continue
        if not line:
            return
        sink.write(line)
        sink.flush()
