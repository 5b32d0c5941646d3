"""Parse PubMed files in a child process while the caller stores what was already parsed.

Storing is the caller's work and parsing the child's, so a load uses two cores. The child
yields exactly the items ``iter_pubmed_file`` yields, in the same order (one producer), so
everything that depends on order (a newer version or a ``<DeleteCitation>`` later in the file)
behaves as when parsing in-process. Memory stays flat: the child blocks once a chunk waits in
the pipe. A caller that stops early, or dies, ends the child (its next write finds the pipe
closed).

``FilesAhead`` parses a planned sequence of files in one child, so the next file is being
parsed while the caller still stores the last one (a load of many small files overlaps too);
``iter_pubmed_file_ahead`` does one file.
"""

from __future__ import annotations

import fcntl
import gc
import os
import pickle
import signal
from collections.abc import Generator, Iterator, Sequence
from contextlib import suppress
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from ingest.pubmed.files import iter_pubmed_file
from records.types import ParsedItem

CHUNK = 200
# A single smaller file is parsed in-process: starting a child and handing over its first chunk
# costs tens of milliseconds on a busy machine, as much as parsing a few hundred records.
MIN_BYTES = 256 * 1024
PIPE_BYTES = 1024 * 1024
_FILE_END = "file-end"


class FilesAhead:
    """Parses ``planned`` files, each as (path, items to skip), in one child process, in order.

    ``items(path, skip)`` yields the items of a planned file. Ask for the files in the planned
    order: the files planned before the one asked for are parsed and dropped, and a file that
    is not planned further on is parsed in this process. Use as a context manager (or call
    ``close``) so the child does not outlive the load.
    """

    def __init__(self, planned: Sequence[tuple[Path | str, int]]) -> None:
        self._planned = [(str(path), skip) for path, skip in planned]
        self._head = 0  # the planned file whose items are next in the pipe
        self._in_file = False  # a caller stopped in the middle of the file at the head
        self._stream: BinaryIO | None = None
        self._pid = 0
        if self._planned and hasattr(os, "fork"):
            self._start()

    def __enter__(self) -> FilesAhead:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def items(self, path: Path | str, skip: int = 0) -> Generator[ParsedItem, None, None]:
        """Yield the items of ``iter_pubmed_file(path)`` after the first ``skip``.

        Raises ``OSError`` when the child dies before the end of the file; later files are
        then parsed in this process.
        """
        wanted = (str(path), skip)
        after = self._head + self._in_file
        if self._stream is None or wanted not in self._planned[after:]:
            yield from islice(iter_pubmed_file(path), skip, None)
            return
        target = self._planned.index(wanted, after)
        while self._head < target:  # the rest of a file left half read, and files not asked for
            for _chunk in self._chunks():
                pass
        self._in_file = True
        for chunk in self._chunks():
            yield from chunk

    def close(self) -> None:
        """End the child (if it still runs) and wait for it."""
        if self._stream is None:
            return
        self._stream.close()
        self._stream = None
        with suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        os.waitpid(self._pid, 0)

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        with suppress(AttributeError, OSError):
            # A pipe that holds most of a chunk: the child then seldom waits for this process to
            # be scheduled in the middle of one (Linux; elsewhere the default size is kept).
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(self._planned, write_fd)
        os.close(write_fd)
        self._pid = pid
        self._stream = os.fdopen(read_fd, "rb")

    def _chunks(self) -> Iterator[list[ParsedItem]]:
        """Yield the chunks of the file at the head of the pipe, up to its end marker."""
        assert self._stream is not None
        path = self._planned[self._head][0]
        while True:
            try:
                chunk = pickle.load(self._stream)  # noqa: S301 (written by our own child, over a private pipe)
            except EOFError:
                self.close()
                raise OSError(f"{path}: the parser process ended before the end of the file") from None
            if chunk == _FILE_END:
                self._head += 1
                self._in_file = False
                return
            yield chunk


def iter_pubmed_file_ahead(path: Path | str, *, skip: int = 0) -> Generator[ParsedItem, None, None]:
    """Yield the items of ``iter_pubmed_file(path)`` after the first ``skip``, parsed in a child.

    Parses in this process when the file is under ``MIN_BYTES`` (or missing) or where
    ``os.fork`` does not exist. Raises ``OSError`` when the child dies before the end of the file.
    """
    if _size(path) < MIN_BYTES:
        yield from islice(iter_pubmed_file(path), skip, None)
        return
    with FilesAhead([(path, skip)]) as ahead:
        yield from ahead.items(path, skip)


def _size(path: Path | str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _child(planned: list[tuple[str, int]], write_fd: int) -> None:
    code = 0
    # Inherited objects stay out of the collector, so it does not copy their pages.
    gc.freeze()
    try:
        with os.fdopen(write_fd, "wb") as stream:
            for path, skip in planned:
                items = islice(iter_pubmed_file(path), skip, None)
                while chunk := list(islice(items, CHUNK)):
                    pickle.dump(chunk, stream, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(_FILE_END, stream)
                stream.flush()  # a file is handed over whole, even if this process dies on the next
    except BrokenPipeError:
        pass  # the caller stopped reading
    except BaseException:
        code = 1
    finally:
        # Skip the parent's exit handlers and open connections: they are not the child's.
        os._exit(code)
