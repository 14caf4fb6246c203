"""Files benchmark: the ``files`` process streaming a 20 MB file to 10 readers at once.

    .venv/bin/python -m bench.files [--size-mb 20] [--readers 10] [--rounds 10]

Starts, each in a process of its own: the fake Telegram holding one file of
``--size-mb`` MiB of random bytes (its download limit raised to fit), a
real ``telegram-bot files`` process, and a plain aiohttp file proxy: the
least code that streams the same download (one GET to Telegram's file path,
its body copied to the client in 64 KiB pieces; no link check, no
``getFile``). Then ``--rounds`` times, alternating which goes first: ``--readers``
clients in this process read the whole file through the files process (a
signed link) at once, then through the plain proxy. Throughput: bytes read by
all readers over the round's wall time; the two are compared round by round
(the median of the rounds' ratios), since the load of a shared machine drifts
within a run. RSS: the files process's peak (``VmHWM`` in
``/proc/<pid>/status``), and the proxy's for comparison; CPU per GB served of
both (``/proc/<pid>/stat``).

Prints a Markdown summary; exit status 1 if a goal is missed: the files
process's peak RSS under 80 MB, and its throughput at least 80 % of the plain
proxy's.

``python -m bench.files telegram PORT SIZE`` and ``... proxy PORT UPSTREAM``
run the two helper processes (the bench starts them itself).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiohttp import web

from bench import machine
from bench.processes import CLI, CLOCK_TICKS, ChildProcess
from services.fakes.redis_server import free_port
from services.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from shared.file_links import link

MB = 1024 * 1024
CHUNK = 64 * 1024
SIGNING_KEY = "bench-files-signing-key-0123456789abcdef"
GOAL_RSS_MB = 80.0
GOAL_RATIO = 0.80


# --- the helper processes -------------------------------------------------------------


async def serve_telegram(port: int, size: int) -> None:
    """The fake Telegram holding one file of ``size`` random bytes; prints its id and path."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with FakeTelegram(port=port) as fake:
        fake.lift_flood_limits()
        fake.files.download_limit = max(size, fake.files.download_limit)
        stored = fake.files.add(os.urandom(size), kind="document", file_name="bench.bin")
        digest = hashlib.sha256(stored.content).hexdigest()
        print(stored.file_id, stored.file_path, digest, flush=True)
        await stop.wait()


async def serve_proxy(port: int, upstream: str) -> None:
    """A plain aiohttp file proxy: ``GET /<file_path>`` streams ``upstream/<file_path>``."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    session = aiohttp.ClientSession(auto_decompress=False)

    async def proxy(request: web.Request) -> web.StreamResponse:
        url = f"{upstream}/{request.match_info['path']}"
        headers = {"Accept-Encoding": "identity"}
        async with session.get(url, headers=headers) as source:
            response = web.StreamResponse(headers={"Content-Type": source.content_type})
            response.content_length = source.content_length
            await response.prepare(request)
            async for chunk in source.content.iter_chunked(CHUNK):
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application()
    app.router.add_get("/{path:.+}", proxy)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await stop.wait()
    await runner.cleanup()
    await session.close()


def _child(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.files", *args], stdout=subprocess.PIPE, text=True
    )


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"helper {process.args!r} exited before it was ready")
    return line.strip()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


# --- the bench --------------------------------------------------------------------------


async def read_all(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    """Read ``url`` to its end: the bytes and their SHA-256."""
    digest, size = hashlib.sha256(), 0
    async with session.get(url) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_chunked(256 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


async def round_of(url: str, readers: int, size: int, digest: str) -> float:
    """``readers`` clients read ``url`` at once; MB/s over the round's wall time."""
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=readers), auto_decompress=False
    ) as session:
        began = time.perf_counter()
        results = await asyncio.gather(*(read_all(session, url) for _ in range(readers)))
        elapsed = time.perf_counter() - began
    if any(result != (size, digest) for result in results):
        raise RuntimeError(f"a reader got other bytes than the file: {url}")
    return readers * size / MB / elapsed


async def bench(size_mb: int, readers: int, rounds: int) -> int:
    size = size_mb * MB
    telegram_port, files_port, proxy_port = free_port(), free_port(), free_port()
    telegram_url = f"http://127.0.0.1:{telegram_port}"
    telegram = _child(["telegram", str(telegram_port), str(size)])
    proxy = _child(["proxy", str(proxy_port), f"{telegram_url}/file/bot{DEFAULT_TOKEN}"])
    log_dir = Path(tempfile.mkdtemp(prefix="bench-files-"))
    files: ChildProcess | None = None
    try:
        file_id, file_path, digest = _first_line(telegram).split()
        _first_line(proxy)
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_API_URL": telegram_url,
            "FILES_SIGNING_KEY": SIGNING_KEY,
            "FILES_LISTEN": f"127.0.0.1:{files_port}",
            "METRICS_PORT": "0",
        }
        files = start_files(env, log_dir / "files.log")
        await wait_listening(files_port, files)
        idle_rss = files.rss_mb()
        signed = link(
            f"http://127.0.0.1:{files_port}",
            SIGNING_KEY.encode(),
            file_id,
            expires_at=int(time.time()) + 3600,
        )
        plain = f"http://127.0.0.1:{proxy_port}/{file_path}"
        ours: list[float] = []
        theirs: list[float] = []
        cpu_before = cpu_seconds(files.pid), cpu_seconds(proxy.pid)
        for number in range(rounds):
            order = [(signed, ours), (plain, theirs)]
            for url, figures in order if number % 2 == 0 else reversed(order):
                figures.append(await round_of(url, readers, size, digest))
        served_gb = rounds * readers * size / 1024**3
        cpu = (
            (cpu_seconds(files.pid) - cpu_before[0]) / served_gb,
            (cpu_seconds(proxy.pid) - cpu_before[1]) / served_gb,
        )
        report(
            size_mb=size_mb,
            readers=readers,
            ours=ours,
            theirs=theirs,
            idle_rss=idle_rss,
            peak_rss=peak_rss_mb(files.pid),
            proxy_rss=peak_rss_mb(proxy.pid),
            cpu_per_gb=cpu,
        )
        ratio = paired_ratio(ours, theirs)
        return 0 if peak_rss_mb(files.pid) < GOAL_RSS_MB and ratio >= GOAL_RATIO else 1
    finally:
        if files is not None:
            files.stop()
        for helper in (proxy, telegram):
            helper.terminate()
            helper.wait(timeout=10)


def start_files(env: dict[str, str], log: Path) -> ChildProcess:
    """``telegram-bot files`` with exactly ``env``, its output in ``log``."""
    with log.open("ab") as out:
        process = subprocess.Popen([CLI, "files"], env=env, stdout=out, stderr=out)
    return ChildProcess(process, log)


async def wait_listening(port: int, files: ChildProcess) -> None:
    async with asyncio.timeout(30), aiohttp.ClientSession() as session:
        while True:
            if files.process.poll() is not None:
                raise RuntimeError(f"files exited:\n{files.log.read_text()}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz"):
                    return  # anything answering: the server is up
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)


def paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """The median of each round's files-to-plain ratio: both ran back to back in a round, so
    the shared machine's load, which drifts within a run, cancels out of each ratio."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def report(
    *,
    size_mb: int,
    readers: int,
    ours: list[float],
    theirs: list[float],
    idle_rss: float,
    peak_rss: float,
    proxy_rss: float,
    cpu_per_gb: tuple[float, float],
) -> None:
    ratio = paired_ratio(ours, theirs)
    print(machine.describe())
    print(f"\n{readers} readers of a {size_mb} MiB file at once, {len(ours)} rounds each\n")
    print("| | median MB/s | rounds (MB/s) | peak RSS | CPU per GB served |")
    print("| --- | --- | --- | --- | --- |")
    rounds = ", ".join(f"{x:.0f}" for x in ours)
    print(
        f"| files process | {statistics.median(ours):.0f} | {rounds} "
        f"| {peak_rss:.1f} MB (idle {idle_rss:.1f} MB) | {cpu_per_gb[0]:.2f} s |"
    )
    rounds = ", ".join(f"{x:.0f}" for x in theirs)
    print(
        f"| plain aiohttp proxy | {statistics.median(theirs):.0f} | {rounds} "
        f"| {proxy_rss:.1f} MB | {cpu_per_gb[1]:.2f} s |"
    )
    print(
        f"\nthroughput {ratio:.0%} of the plain proxy's, the median of the rounds' ratios "
        f"(goal ≥ {GOAL_RATIO:.0%}); "
        f"peak RSS {peak_rss:.1f} MB (goal < {GOAL_RSS_MB:.0f} MB)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["telegram"]:
        asyncio.run(serve_telegram(int(args[1]), int(args[2])))
        return 0
    if args[:1] == ["proxy"]:
        asyncio.run(serve_proxy(int(args[1]), args[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    options = parser.parse_args(args)
    return asyncio.run(bench(options.size_mb, options.readers, options.rounds))


if __name__ == "__main__":
    sys.exit(main())
