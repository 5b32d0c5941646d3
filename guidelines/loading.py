"""Loading guideline files from disk (``load_guidelines`` and the ``make run`` seed)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from guidelines.services import GuidelineCounts, guideline_store_item
from ingest.pubmed.files import iter_input_paths
from records.types import ParseProblem

logger = logging.getLogger(__name__)
HAND_OFF_EVERY = 200  # changed record ids handed on in groups of about this many


@dataclass
class GuidelineLoadCounts(GuidelineCounts):
    files: int = 0
    problems: list[ParseProblem] = field(default_factory=list)


def load_guideline_paths(
    *, paths: Sequence[Path], on_changed: Callable[[list[int]], object] | None = None
) -> GuidelineLoadCounts:
    """Read guideline files or folders (format detected per file, gzip allowed) and store them.

    Idempotent: a second load of the same files changes nothing. A file that cannot be read is
    reported in ``problems`` and the load goes on. ``on_changed`` receives the ids of changed
    records after their transaction committed (grading and indexing hand-off).
    """
    from ingest.guidelines.files import read_guideline_paths

    files = list(iter_input_paths(paths))
    counts = GuidelineLoadCounts(files=len(files))
    pending: list[int] = []
    for item in read_guideline_paths(files):
        if isinstance(item, ParseProblem):
            counts.problems.append(item)
            continue
        before = len(counts.changed_record_ids)
        guideline_store_item(item=item, harvested_at=timezone.now(), counts=counts)
        pending.extend(counts.changed_record_ids[before:])
        if on_changed is not None and len(pending) >= HAND_OFF_EVERY:
            on_changed(pending)
            pending = []
    if on_changed is not None and pending:
        on_changed(pending)
    return counts
