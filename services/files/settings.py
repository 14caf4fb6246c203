"""The ``files`` process's settings: where it listens, and the key it checks links with.

Light on purpose (no app import): the CLI loads it to report a
configuration error before the app. ``FILES_SIGNING_KEY`` is optional for
the other processes (unset: files are not passed on) but required here: a
files process without it could check no link.
"""

from __future__ import annotations

from shared.settings import BaseSettings, require_positive


class FilesSettings(BaseSettings, kw_only=True, frozen=True):
    files_listen: str = "0.0.0.0:8081"
    """``host:port`` the file links are served on (``[::]:8081`` for IPv6)."""
    files_upstream_timeout_s: float = 30.0
    """How long the Bot API may keep us waiting: for ``getFile``'s answer, for the
    download to start, and between two pieces of it. Past it the request fails (502)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.files_signing_key is None:
            raise ValueError(
                "files_signing_key: required but not set (the files process checks links with it)"
            )
        require_positive(self, "files_upstream_timeout_s")
        files_listen_address(self.files_listen)  # raises when malformed

    @property
    def signing_key(self) -> bytes:
        """``FILES_SIGNING_KEY`` as the HMAC key (always set here)."""
        key = self.files_key
        assert key is not None  # checked in __post_init__
        return key


def files_listen_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::]:8081`` for IPv6) as a pair; ``ValueError`` naming the variable."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("files_listen: expected host:port, such as 0.0.0.0:8081")
    return host, int(port)


Settings = FilesSettings
