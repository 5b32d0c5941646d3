"""Parse a PubMed file in a child process while the caller stores what was already parsed.

Storing is the caller's work and parsing the child's, so a load uses two cores. The child
yields exactly the items ``iter_pubmed_file`` yields, in the same order (one file, one
producer), so everything that depends on order (a newer version or a ``<DeleteCitation>``
later in the file) behaves as when parsing in-process. Memory stays flat: the child blocks
once a chunk waits in the pipe. A caller that stops early, or dies, ends the child (its next
write finds the pipe closed).
"""

from __future__ import annotations

import fcntl
import gc
import os
import pickle
import signal
from collections.abc import Iterator
from contextlib import suppress
from itertools import islice
from pathlib import Path

from ingest.pubmed.files import iter_pubmed_file
from records.types import ParsedItem

CHUNK = 200
# Smaller files are parsed in-process: starting a child and handing over its first chunk costs
# tens of milliseconds on a busy machine, as much as parsing a few hundred records.
MIN_BYTES = 256 * 1024
PIPE_BYTES = 1024 * 1024
_END = "end"


def iter_pubmed_file_ahead(path: Path | str, *, skip: int = 0) -> Iterator[ParsedItem]:
    """Yield the items of ``iter_pubmed_file(path)`` after the first ``skip``, parsed in a child.

    Parses in this process when the file is under ``MIN_BYTES`` (or missing) or where
    ``os.fork`` does not exist. Raises ``OSError`` when the child dies before the end of the file.
    """
    if not hasattr(os, "fork") or _size(path) < MIN_BYTES:
        yield from islice(iter_pubmed_file(path), skip, None)
        return
    read_fd, write_fd = os.pipe()
    with suppress(AttributeError, OSError):
        # A pipe that holds most of a chunk: the child then seldom waits for this process to be
        # scheduled in the middle of one (Linux; elsewhere the default size is kept).
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _child(path, skip, write_fd)
    os.close(write_fd)
    finished = False
    try:
        with os.fdopen(read_fd, "rb") as stream:
            while True:
                try:
                    chunk = pickle.load(stream)  # noqa: S301 (written by our own child, over a private pipe)
                except EOFError:
                    raise OSError(f"{path}: the parser process ended before the end of the file") from None
                if chunk == _END:
                    finished = True
                    break
                yield from chunk
    finally:
        if not finished:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _size(path: Path | str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _child(path: Path | str, skip: int, write_fd: int) -> None:
    code = 0
    # Inherited objects stay out of the collector, so it does not copy their pages.
    gc.freeze()
    try:
        with os.fdopen(write_fd, "wb") as stream:
            items = islice(iter_pubmed_file(path), skip, None)
            while chunk := list(islice(items, CHUNK)):
                pickle.dump(chunk, stream, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(_END, stream)
    except BrokenPipeError:
        pass  # the caller stopped reading
    except BaseException:
        code = 1
    finally:
        # Skip the parent's exit handlers and open connections: they are not the child's.
        os._exit(code)
