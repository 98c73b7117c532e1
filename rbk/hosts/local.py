"""The ``local`` transport: the machine rbk runs on."""

from __future__ import annotations

import glob
import os
import signal
import stat
import subprocess
import tempfile
import threading
import time
from typing import Any, BinaryIO

from rbk.hosts.base import MAX_OUTPUT, CommandResult, FileInfo, display


class LocalTransport:
    def __init__(self, host: Any = None):
        self.name = getattr(host, "name", "localhost")

    def run(self, command: list[str] | str, *, timeout: float | None = None,
            stdin: bytes | None = None, env: dict[str, str] | None = None,
            cwd: str | None = None, max_output: int = MAX_OUTPUT) -> CommandResult:
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        shown = display(command)
        start = time.monotonic()
        full_env = {**os.environ, **env} if env else None
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                                    env=full_env, start_new_session=True)
        except (OSError, ValueError) as exc:
            return CommandResult(shown, self.name, 127, "", f"cannot run: {exc}",
                                 time.monotonic() - start)
        out: list[bytes] = []
        err: list[bytes] = []
        truncated = [False]

        def pump(stream, sink: list[bytes]) -> None:
            size = 0
            for chunk in iter(lambda: stream.read(65536), b""):
                if size < max_output:
                    sink.append(chunk[: max_output - size])
                if size + len(chunk) > max_output:
                    truncated[0] = True
                size += len(chunk)

        threads = [threading.Thread(target=pump, args=(proc.stdout, out), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, err), daemon=True)]
        for t in threads:
            t.start()
        if stdin:
            try:
                proc.stdin.write(stdin)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill(proc)
        except BaseException:  # Ctrl-C: do not leave the child running
            self._kill(proc)
            raise
        for t in threads:
            t.join(timeout=5)
        stderr = b"".join(err).decode("utf-8", "replace")
        if timed_out:
            stderr += f"\n[rbk] killed after timeout of {timeout:g}s"
        return CommandResult(shown, self.name, -9 if timed_out else proc.returncode,
                             b"".join(out).decode("utf-8", "replace"), stderr,
                             time.monotonic() - start, truncated[0])

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait()

    def read_file(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".rbk-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def remove(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def open_read(self, path: str) -> BinaryIO:
        return open(path, "rb", buffering=0)  # noqa: SIM115 - the caller closes it

    def glob(self, pattern: str) -> list[FileInfo]:
        out = []
        for p in sorted(glob.glob(os.path.expanduser(pattern))):
            st = os.stat(p)
            if stat.S_ISREG(st.st_mode):
                out.append(FileInfo(p, st.st_size, st.st_mtime))
        return out

    def stat_mode(self, path: str) -> int | None:
        try:
            return os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            return None

    def close(self) -> None:
        pass
