"""Gzipped PubMed files, decompressed with ISA-L (about 2.5x faster than zlib on PubMed XML)."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import BinaryIO, cast

from isal import igzip, isal_zlib

GZIP_MAGIC = b"\x1f\x8b"
# What reading a broken file raises: truncated (EOFError), bad header or CRC (OSError), bad data
# (isal's stub types its error as an instance, hence the cast).
READ_ERRORS = (EOFError, OSError, zlib.error, cast(type[Exception], isal_zlib.error))


def open_maybe_gzipped(path: Path) -> BinaryIO:
    """Open ``path`` for reading bytes, decompressed when it starts with the gzip magic."""
    with path.open("rb") as raw:
        magic = raw.read(2)
    if magic == GZIP_MAGIC:
        return igzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")
