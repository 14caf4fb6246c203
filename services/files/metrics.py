"""The ``files`` process's own series, on the registry of its ``Metrics("files")``.

Beside the series every process has (``shared.metrics``, the ``process_*``
ones included), each request is counted once by how it ended, and every
byte sent to a client is counted. Labels are the closed list below, never a
file id, a link or a token.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from prometheus_client import Counter, Gauge

from shared.metrics import OTHER, PREFIX, Metrics

FileResult = Literal[
    "served",
    "forbidden",
    "not_found",
    "too_large",
    "unavailable",
    "client_gone",
    "upstream_broke",
]
"""How a request ended: ``served`` (streamed in full, or a HEAD answered), ``forbidden``
(403: forged, tampered, expired or another file's link), ``not_found`` (404: Telegram
does not know the file), ``too_large`` (413: over the Bot API's download limit),
``unavailable`` (502/503: Telegram refused, failed or did not answer), ``client_gone``
(the client left mid-stream), ``upstream_broke`` (the download from Telegram broke
mid-stream: the client got a short body)."""

RESULTS: Final = get_args(FileResult)


class FilesMetrics:
    """``telegram_bot_files_requests_total{result}``, ``telegram_bot_files_bytes_total``,
    ``telegram_bot_files_streaming`` (gauge), registered on ``metrics.registry``."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics: Final = metrics
        service = metrics.service
        self._requests = Counter(
            f"{PREFIX}files_requests",
            "File link requests, by how they ended.",
            ["service", "result"],
            registry=metrics.registry,
        )
        self._bytes = Counter(
            f"{PREFIX}files_bytes",
            "Bytes of files sent to clients.",
            ["service"],
            registry=metrics.registry,
        ).labels(service=service)
        self._streaming = Gauge(
            f"{PREFIX}files_streaming",
            "Files being streamed to a client right now.",
            ["service"],
            registry=metrics.registry,
        ).labels(service=service)
        for result in RESULTS:
            self._requests.labels(service=service, result=result)

    def request(self, result: FileResult) -> None:
        """One request done, ended as ``result``."""
        label = result if result in RESULTS else OTHER
        self._requests.labels(service=self.metrics.service, result=label).inc()

    def sent(self, count: int) -> None:
        """``count`` more bytes written to a client."""
        self._bytes.inc(count)

    def streaming(self, delta: int) -> None:
        """A stream began (+1) or ended (-1)."""
        self._streaming.inc(delta)
