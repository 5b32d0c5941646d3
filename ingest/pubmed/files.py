"""PubMed files on disk: find them, detect their format and compression, parse them."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ingest.pubmed.compressed import GZIP_MAGIC, READ_ERRORS, open_maybe_gzipped
from ingest.pubmed.medline import parse_medline_text
from ingest.pubmed.xml import parse_pubmed_xml
from records.types import ParsedItem, ParseProblem

# Longest MEDLINE line read (real lines wrap at ~80 characters; a whole abstract is < 100 KB).
MAX_LINE_BYTES = 8 * 1024 * 1024

_PEEK = 16 * 1024
_LINE_CHUNK = 64 * 1024
_MEDLINE_TAG = re.compile(rb"^[A-Z][A-Z0-9 ]{3}- ", re.MULTILINE)


def iter_input_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Yield the files named, and every file under the folders named (sorted, hidden files left out).

    A path that does not exist is yielded as is, so that reading it reports the problem.
    """
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts):
                    yield child
        else:
            yield path


def iter_pubmed_file(path: Path | str) -> Iterator[ParsedItem]:
    """Yield the items of one PubMed file, whatever its format; never raises.

    PubMed XML (``PubmedArticleSet``, ``MedlineCitationSet``) or MEDLINE text, plain or gzipped,
    told apart by content (names such as ``Ecuador shrimp`` carry no extension). A file that is
    empty, not PubMed, malformed or truncated yields one ParseProblem (after any good records).
    """
    path = Path(path)
    location = str(path)
    try:
        head = _peek(path)
    except FileNotFoundError:
        yield ParseProblem(location=location, reason="no such file")
        return
    except READ_ERRORS as error:
        yield ParseProblem(location=location, reason=f"cannot read the file ({error})")
        return
    kind = detect_format(head)
    if kind == "empty":
        yield ParseProblem(location=location, reason="file is empty")
        return
    if kind == "unknown":
        preview = head[:40].decode("utf-8", "replace").replace("\n", " ")
        yield ParseProblem(location=location, reason=f"not PubMed XML or MEDLINE text (it starts with {preview!r})")
        return
    try:
        with open_maybe_gzipped(path) as stream:
            if kind == "xml":
                yield from parse_pubmed_xml(stream, location=location)
            else:
                yield from parse_medline_text(_decoded_lines(stream), location=location)
    except LineTooLongError as error:
        yield ParseProblem(location=location, reason=f"not MEDLINE text: {error}; the rest of the file was skipped")
    except OSError as error:
        yield ParseProblem(location=location, reason=f"cannot read the file ({error})")


def detect_format(head: bytes) -> str:
    """Return ``xml``, ``medline``, ``empty`` or ``unknown`` for the first bytes of a (decompressed) file."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        return "empty"
    if text.startswith(b"<"):
        return "xml"
    if _MEDLINE_TAG.search(text):
        return "medline"
    return "unknown"


def _peek(path: Path) -> bytes:
    """Return the first decompressed bytes; a gzip cut off early still gives what it holds."""
    with path.open("rb") as raw:
        head = raw.read(_PEEK)
    if not head.startswith(GZIP_MAGIC):
        return head
    return zlib.decompressobj(wbits=31).decompress(head, _PEEK)


class LineTooLongError(ValueError):
    """A MEDLINE line longer than :data:`MAX_LINE_BYTES` (no real record has one)."""


def _decoded_lines(stream: BinaryIO, *, max_line_bytes: int | None = None) -> Iterator[str]:
    """Yield the lines of ``stream`` as text (UTF-8; a line that is not UTF-8 is read as Latin-1).

    Reads 64 KiB at a time (a truncated gzip raises on the read that reaches the break), in time
    linear in the size however long a line is. Raises ``LineTooLongError`` for a line longer
    than ``max_line_bytes`` (default :data:`MAX_LINE_BYTES`) before holding more of it.
    """
    limit = MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes
    parts: list[bytes] = []  # the start of a line not finished yet
    held = 0
    lines = 0
    while True:
        chunk = stream.read(_LINE_CHUNK)
        if not chunk:
            break
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            parts.append(chunk)
            held += len(chunk)
            if held > limit:
                raise LineTooLongError(f"line {lines + 1} is longer than {limit // (1024 * 1024)} MiB")
            continue
        block = b"".join((*parts, chunk[:cut]))
        parts = [chunk[cut:]] if cut < len(chunk) else []
        held = len(chunk) - cut
        try:
            # Split on "\n" only: str.splitlines() would also break at \x0c, \x85, \u2028 inside text.
            decoded = block[:-1].decode("utf-8").split("\n")
        except UnicodeDecodeError:
            decoded = [_decode_line(line) for line in block[:-1].split(b"\n")]
        if max(map(len, decoded)) > limit:
            raise LineTooLongError(f"line {lines + 1} is longer than {limit // (1024 * 1024)} MiB")
        lines += len(decoded)
        yield from decoded
    if parts:
        yield _decode_line(b"".join(parts))


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")
