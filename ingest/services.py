"""Loading PubMed files into evidence records: read every file, upsert in batches, hand changes on."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from ingest.pubmed import iter_input_paths
from ingest.pubmed.ahead import iter_pubmed_file_ahead
from ingest.pubmed.compressed import READ_ERRORS, open_maybe_gzipped
from records.services import records_tombstone, records_upsert_batch
from records.types import DeletedCitation, LoadCounts, ParsedRecord, ParseProblem

# The PMID of each citation: the first child of MedlineCitation/BookDocument, or a MEDLINE PMID tag.
# One pattern per format, each starting with a literal, so the scan runs at memchr speed.
_XML_PMIDS = (
    re.compile(rb"<MedlineCitation\b[^>]*>\s*<PMID\b[^>]*>\s*(\d+)"),
    re.compile(rb"<BookDocument\b[^>]*>\s*<PMID\b[^>]*>\s*(\d+)"),
)
_MEDLINE_PMIDS = (re.compile(rb"\nPMID- *(\d+)"),)
_SCAN_CHUNK = 1 << 20
# How long a load waits for the database to come back (a restart, a failover) before it fails.
DB_RECONNECT_SECONDS = 120.0
T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass
class PubmedLoadCounts(LoadCounts):
    """LoadCounts plus the files read and the copies superseded by a later copy of the same PMID.

    ``read == new + updated + unchanged + superseded``; ``skipped`` counts problems (records or files).
    """

    files: int = 0
    superseded: int = 0
    deletions_read: int = 0


def last_file_of_each_pmid(paths: Sequence[Path]) -> dict[str, int]:
    """Return, for each citation PMID in ``paths``, the index of the last file that holds it.

    A quick byte scan (no XML parsing); unreadable files are left out (reading them reports why).
    """
    last: dict[str, int] = {}
    for index, path in enumerate(paths):
        for pmid in _scan_pmids(path):
            last[pmid] = index
    return last


def _scan_pmids(path: Path) -> Iterable[str]:
    try:
        with open_maybe_gzipped(path) as stream:
            tail = b"\n"
            patterns = None
            while True:
                chunk = stream.read(_SCAN_CHUNK)
                if patterns is None:
                    patterns = _XML_PMIDS if chunk.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else _MEDLINE_PMIDS
                buffer = tail + chunk
                # Matches starting in the last 1 KiB may be cut by the chunk end: they are
                # taken from the next buffer, which starts there.
                limit = max(len(buffer) - 1024, 0) if chunk else len(buffer)
                for pattern in patterns:
                    for match in pattern.finditer(buffer):
                        if match.start() < limit:
                            yield match.group(1).decode("ascii")
                if not chunk:
                    break
                tail = buffer[limit:]
    except READ_ERRORS:
        return


def retry_on_lost_connection(write: Callable[[], T], *, wait_seconds: float = DB_RECONNECT_SECONDS) -> T:
    """Run ``write`` (one transaction), again after a lost database connection; return its result.

    A restarted PostgreSQL (or a failover) rolls the interrupted transaction back, so writing the
    batch again is exact. Retries with backoff for up to ``wait_seconds``, then raises the
    database's OperationalError / InterfaceError.
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as error:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning("database connection lost (%s); writing the batch again in %.1f s", error, delay)
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def load_pubmed_paths(
    *,
    paths: Sequence[Path],
    batch_size: int = 500,
    on_changed: Callable[[list[int]], None] | None = None,
    supersede_across_files: bool = True,
) -> PubmedLoadCounts:
    """Read every PubMed file under ``paths``, upsert the records in batches, tombstone deletions.

    Returns the counts; record- and file-level problems are collected in ``problems`` (and
    counted ``skipped``) and never stop the load. ``on_changed(ids)`` is called after each
    committed batch with the pks created, changed or tombstoned (the grading/indexing hand-off).

    When the same PMID is in several files of one load (two exports of one search), the copy in
    the last file is the one stored and earlier copies are counted ``superseded``, so loading the
    same files again changes nothing. ``supersede_across_files=False`` skips the byte pre-scan
    this needs (for loads too large to keep a PMID map in memory): then each copy is written in turn.
    Records and deletions are applied in file order; a deletion followed by the record in a later
    file of the same load leaves the record live (and is not applied, so reloads change nothing).
    """
    files = list(iter_input_paths(paths))
    last_file = last_file_of_each_pmid(files) if supersede_across_files else {}
    counts = PubmedLoadCounts(files=len(files))
    harvested_at = timezone.now()
    pending: list[ParsedRecord] = []
    pending_deletes: list[str] = []

    def flush_records() -> None:
        if not pending:
            return
        result = retry_on_lost_connection(lambda: records_upsert_batch(parsed=pending, harvested_at=harvested_at))
        counts.new += result.new
        counts.updated += result.updated
        counts.unchanged += result.unchanged
        # Copies of one PMID inside the batch: the last one was stored, the others were superseded.
        counts.superseded += len(pending) - result.new - result.updated - result.unchanged
        pending.clear()
        if on_changed and result.changed_ids:
            on_changed(result.changed_ids)

    def flush_deletes() -> None:
        if not pending_deletes:
            return
        tombstoned = retry_on_lost_connection(
            lambda: records_tombstone(source="pubmed", source_ids=pending_deletes, deleted_at=timezone.now())
        )
        counts.deleted += len(tombstoned)
        pending_deletes.clear()
        if on_changed and tombstoned:
            on_changed(tombstoned)

    for index, path in enumerate(files):
        for item in iter_pubmed_file_ahead(path):  # parsed in a child while this process stores
            if isinstance(item, ParsedRecord):
                counts.read += 1
                if last_file.get(item.source_id, index) > index:
                    counts.superseded += 1
                    continue
                flush_deletes()  # keep file order: a deletion before this record applies first
                pending.append(item)
                if len(pending) >= batch_size:
                    flush_records()
            elif isinstance(item, DeletedCitation):
                counts.deletions_read += 1
                if last_file.get(item.source_id, -1) > index:
                    continue  # a later file of this load holds the record again: it stays live
                flush_records()
                pending_deletes.append(item.source_id)
                if len(pending_deletes) >= batch_size:
                    flush_deletes()
            elif isinstance(item, ParseProblem):
                counts.skipped += 1
                counts.problems.append(item)
    flush_records()
    flush_deletes()
    return counts
