"""First-run setup used by `make run`: seed the database, grade, train, build the lexical index.

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
    """Load the seed PubMed files when the database holds no record yet."""
    from ingest.services import load_pubmed_paths
    from records.evidence.services import records_grade

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
    counts = load_pubmed_paths(paths=[seed_path], on_changed=lambda ids: records_grade(record_ids=ids))
    report.say(
        f"Seed loaded from {seed}: {counts.read} read, {counts.new} new, {counts.updated} updated, "
        f"{counts.unchanged} unchanged, {counts.skipped} skipped."
    )


def ensure_design_classifier(*, report: BootstrapReport) -> None:
    """Train the study-design classifier from the stored records when no artifact exists."""
    from records.evidence import classifier
    from records.evidence.services import records_grade

    if classifier.current_artifact_path() is not None:
        report.say("Design classifier present.")
        return
    if not EvidenceRecord.objects.exists():
        return
    try:
        artifact = classifier.train_from_database()
    except classifier.NotEnoughTrainingData as error:
        report.say(f"Design classifier not trained: {error}")
        return
    report.say(f"Design classifier trained: {artifact}.")
    unindexed = EvidenceRecord.objects.filter(evidence_level__in=[None, "unknown"]).values_list("id", flat=True)
    records_grade(record_ids=list(unindexed))


def ensure_lexical_index(*, report: BootstrapReport) -> None:
    """Bring the search index in step with the database (text now; vectors in the background)."""
    from search.indexing import reconcile_index

    result = reconcile_index(repair=True)
    report.say(f"Search index: {result.summary()}")


def run_bootstrap() -> BootstrapReport:
    """Run every first-run step and return what each one did."""
    report = BootstrapReport()
    seed_database(seed=settings.EVIDENCE_SEED, report=report)
    ensure_design_classifier(report=report)
    ensure_lexical_index(report=report)
    return report
