"""The transport interface every action uses to reach a host."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

#: Default cap on captured stdout/stderr per command.
MAX_OUTPUT = 1024 * 1024


@dataclass
class CommandResult:
    """Like fabric's Result: what ran, where, and what it said."""

    command: str
    host: str
    exited: int
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exited == 0


def display(command: list[str] | str) -> str:
    """The exact command line as a POSIX shell would receive it."""
    return command if isinstance(command, str) else shlex.join(command)


class Transport(Protocol):
    """How rbk runs commands and moves files on one host."""

    def run(self, command: list[str] | str, *, timeout: float | None = None,
            stdin: bytes | None = None, env: dict[str, str] | None = None,
            cwd: str | None = None, max_output: int = MAX_OUTPUT) -> CommandResult:
        """Run ``command`` (argv list, or a string for ``/bin/sh -c``); never raises on rc != 0."""
        ...

    def read_file(self, path: str) -> bytes | None:
        """File contents, or None if it does not exist."""
        ...

    def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        """Write atomically (temp file in the same directory, fsync, rename)."""
        ...

    def remove(self, path: str) -> None:
        ...

    def open_read(self, path: str) -> BinaryIO:
        """A binary stream of the file, read incrementally (never copied whole)."""
        ...

    def glob(self, pattern: str) -> list[FileInfo]:
        """Files matching a glob pattern (a plain path matches itself), with size and mtime."""
        ...

    def stat_mode(self, path: str) -> int | None:
        ...

    def close(self) -> None:
        ...


@dataclass
class FileInfo:
    path: str
    size: int
    mtime: float


@dataclass
class Host:
    """One inventory host and its connection."""

    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    transport_kind: str = "local"
    _transport: Transport | None = None
    _factory: Any = None

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = self._factory(self)
        return self._transport

    def run(self, command: list[str] | str, **kwargs: Any) -> CommandResult:
        return self.transport.run(command, **kwargs)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
