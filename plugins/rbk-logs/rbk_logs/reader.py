"""Reading log files through a host's transport: rotated sets in time order, gzip, chunks.

Files are streamed in blocks that end on a line boundary, so memory stays flat
whatever the file size, and a remote file is never copied whole.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import Any

from rbk.errors import StepFailed

CHUNK = 8 * 1024 * 1024
_ROTATION = re.compile(r"\.(\d+)(?:\.gz)?$")


def rotation_index(path: str) -> int:
    """access.log -> 0, access.log.1 -> 1, access.log.2.gz -> 2."""
    m = _ROTATION.search(path)
    return int(m.group(1)) if m else 0


def resolve(transport: Any, patterns: list[str]) -> list[Any]:
    """Files for the patterns, oldest first: by rotation number, then mtime."""
    files = {}
    for pattern in patterns:
        found = transport.glob(pattern)
        if not found:
            raise StepFailed(f"no log file matches {pattern!r}")
        for f in found:
            files[f.path] = f
    return sorted(files.values(), key=lambda f: (-rotation_index(f.path), f.mtime, f.path))


def chunks(transport: Any, path: str, size: int | None = None, on_read: Any = None,
           start: int = 0, stop: int | None = None, views: bool = False
           ) -> Iterator[bytes | memoryview]:
    """Blocks of whole lines (the last block may lack a final newline).

    ``on_read(n)`` is told how many bytes of the file (compressed, for .gz) were read.
    ``start``/``stop``: only the (uncompressed) bytes in [start, stop), both on line
    boundaries; a plain file is read from ``start`` on, a .gz one inflated and skipped.
    ``views``: plain files may come as memoryviews of read buffers (one copy less).
    """
    blocks = _chunks(transport, path, size or CHUNK, on_read, start, views)
    if stop is None:
        yield from blocks
        return
    pos = start
    for block in blocks:
        if pos + len(block) >= stop:
            if stop > pos:
                yield block[: stop - pos]
            return
        yield block
        pos += len(block)


def _chunks(transport: Any, path: str, size: int, on_read: Any, start: int,
            views: bool) -> Iterator[bytes | memoryview]:
    gz = path.endswith(".gz")
    stream = transport.open_read(path)
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gz else None
    rest = b""
    skip = start
    if skip and not gz:
        try:
            stream.seek(start)
            skip = 0
        except (OSError, AttributeError):
            pass
    if views and not gz and not skip and hasattr(stream, "readinto"):
        try:
            yield from _chunks_into(stream, size, on_read)
        finally:
            stream.close()
        return
    try:
        while True:
            block = stream.read(size)
            if not block:
                break
            if on_read is not None:
                on_read(len(block))
            if inflate is not None:
                try:
                    block = inflate.decompress(block)
                    while inflate.eof and inflate.unused_data:  # concatenated gzip members
                        tail = inflate.unused_data
                        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        block += inflate.decompress(tail)
                except zlib.error as exc:
                    raise StepFailed(f"{path}: corrupt gzip data ({exc})") from None
            if skip:
                dropped = min(skip, len(block))
                block, skip = block[dropped:], skip - dropped
                if not block:
                    continue
            cut = block.rfind(b"\n")
            if cut < 0:
                rest += block
                continue
            # One copy per block: join the carried partial line with a view of the block.
            yield b"".join((rest, memoryview(block)[: cut + 1]))
            rest = block[cut + 1:]
        if rest:
            yield rest
    finally:
        stream.close()


def _chunks_into(stream: Any, size: int, on_read: Any) -> Iterator[memoryview]:
    """Plain files: read each block into its own buffer after the carried partial line,
    and hand out a view of its whole lines - no copy of the block."""
    rest = b""
    while True:
        buf = bytearray(len(rest) + size)
        buf[: len(rest)] = rest
        n = stream.readinto(memoryview(buf)[len(rest):])
        if not n:
            break
        if on_read is not None:
            on_read(n)
        end = len(rest) + n
        cut = buf.rfind(b"\n", 0, end)
        if cut < 0:
            rest = bytes(buf[:end])
            continue
        yield memoryview(buf)[: cut + 1]
        rest = bytes(buf[cut + 1: end])
    if rest:
        yield memoryview(rest)


def tail_lines(transport: Any, path: str, want: int = 64) -> list[bytes]:
    """The last lines of a file (for the newest timestamp), cheaply for plain files."""
    if path.endswith(".gz"):
        last = b""
        for block in chunks(transport, path):
            last = (last + block)[-256 * 1024:]
        return last.splitlines()[-want:]
    stream = transport.open_read(path)
    try:
        try:
            stream.seek(0, 2)
            end = stream.tell()
            stream.seek(max(0, end - 256 * 1024))
        except (OSError, AttributeError):
            pass
        data = b"".join(iter(lambda: stream.read(1024 * 1024), b""))
    finally:
        stream.close()
    return data.splitlines()[-want:]


def parallel_map(fn: Any, items: Iterator[Any], workers: int = 2,
                 depth: int = 4) -> Iterator[Any]:
    """``fn`` over ``items`` on ``workers`` threads, results in order, at most ``depth``
    in flight. ``items`` is consumed on the calling thread (between results)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(workers, thread_name_prefix="rbk-logs")
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)


def prefetch(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Produce ``items`` in a background thread, at most ``depth`` ahead."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)
            return
        q.put(done)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class Progress:
    """A progress bar on stderr for big inputs when stderr is a terminal; silent otherwise."""

    THRESHOLD = 50 * 1024 * 1024

    def __init__(self, total: int, label: str):
        import sys

        self.bar = None
        if total >= self.THRESHOLD and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress("[progress.description]{task.description}", BarColumn(),
                                    DownloadColumn(), TransferSpeedColumn(),
                                    TimeRemainingColumn(), transient=True)
            self.task = self.bar.add_task(label, total=total)
            self.bar.start()

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
