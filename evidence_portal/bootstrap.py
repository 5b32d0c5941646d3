"""First-run setup used by `make run`: seed the database (graded and indexed as it loads) and
bring the lexical index in step. The design classifier is trained by the worker afterwards.

Each step is idempotent, so running `make run` twice duplicates nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from records.models import EvidenceRecord

logger = logging.getLogger(__name__)


@dataclass
class BootstrapReport:
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        logger.info(line)
        self.lines.append(line)


def seed_database(*, seed: str | None, report: BootstrapReport) -> None:
    """Load the seed PubMed files when the database holds no record yet.

    Each stored batch goes through the same hand-off as a harvest: graded and indexed at once,
    embedded later by the worker.
    """
    from ingest.pipeline import records_changed
    from ingest.services import load_pubmed_paths

    if EvidenceRecord.objects.exists():
        report.say(f"Database already holds {EvidenceRecord.objects.count()} records: no seed loaded.")
        return
    if not seed:
        report.say(
            "Database is empty and EVIDENCE_SEED is not set: set it to PubMed files to load, "
            "or harvest with `manage.py harvest_pubmed`."
        )
        return
    seed_path = Path(seed)
    if not seed_path.exists():
        report.say(f"EVIDENCE_SEED points at {seed}, which does not exist: no seed loaded.")
        return
    counts = load_pubmed_paths(paths=[seed_path], on_changed=records_changed)
    report.say(
        f"Seed loaded from {seed}: {counts.read} read, {counts.new} new, {counts.updated} updated, "
        f"{counts.unchanged} unchanged, {counts.skipped} skipped."
    )


def seed_guidelines(*, seed: str | None, report: BootstrapReport) -> None:
    """Load the seed guideline files when no guideline is stored yet (graded and indexed as they load)."""
    from guidelines.loading import load_guideline_paths
    from guidelines.models import Guideline
    from ingest.pipeline import records_changed

    if Guideline.objects.exists():
        report.say(f"Database already holds {Guideline.objects.count()} guidelines: no guideline seed loaded.")
        return
    if not seed:
        report.say("EVIDENCE_GUIDELINE_SEED is not set: no guidelines loaded (see `manage.py load_guidelines`).")
        return
    if not Path(seed).exists():
        report.say(f"EVIDENCE_GUIDELINE_SEED points at {seed}, which does not exist: no guidelines loaded.")
        return
    counts = load_guideline_paths(paths=[Path(seed)], on_changed=records_changed)
    report.say(
        f"Guidelines loaded from {seed}: {counts.read} guidelines with {counts.recommendations} recommendations "
        f"({len(counts.problems)} files could not be read)."
    )


def ensure_lexical_index(*, report: BootstrapReport) -> None:
    """Bring the search index in step with the database (text now; vectors in the background).

    An index this version cannot open (written by an older version) is rebuilt.
    """
    from search.backends.base import SearchBackendError
    from search.indexing import rebuild_index, reconcile_index

    try:
        result = reconcile_index(repair=True)
    except SearchBackendError as error:
        report.say(f"The search index could not be read ({error}); rebuilding it.")
        rebuilt = rebuild_index()
        report.say(f"Search index rebuilt as generation {rebuilt.generation}: {rebuilt.indexed} records indexed.")
        return
    report.say(
        f"Search index: {result.database} records in the database, {result.indexed} indexed before repair; "
        f"{len(result.missing)} missing, {len(result.extra)} extra, {len(result.stale)} stale"
        + (" (repaired)" if result.repaired else "")
    )


def run_bootstrap() -> BootstrapReport:
    """Run every first-run step and return what each one did."""
    report = BootstrapReport()
    seed_database(seed=settings.EVIDENCE_SEED, report=report)
    seed_guidelines(seed=settings.EVIDENCE_GUIDELINE_SEED, report=report)
    ensure_lexical_index(report=report)
    return report
