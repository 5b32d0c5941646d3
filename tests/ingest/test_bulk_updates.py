"""PubMed bulk files: update files delete what they delete, newer versions replace older ones."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ingest import runs, steps
from ingest.models import HarvestRun, ItemStatus, RunStatus
from records.models import EvidenceRecord
from tests.ingest.eutils_server import pubmed_file, read_articles, with_new_pmid
from tests.workers import harvest_env

__all__ = ["harvest_env"]

pytestmark = [pytest.mark.shared_data]

# A real daily update file: 10 records and a <DeleteCitation> of 23 PMIDs.
UPDATE_FILE = "tipplerow__pubmed__pubmed-lib--data--test--pubmed20n1203.xml.gz"
OTHER_FILE = "mattgrayson__pubmed__example-data--efetch.xml.gz"


def deleted_pmids(path: Path) -> list[str]:
    with gzip.open(path, "rt") as stream:
        text = stream.read()
    block = text[text.index("<DeleteCitation>") : text.index("</DeleteCitation>")]
    return [line.split(">")[1].split("<")[0] for line in block.splitlines() if "<PMID" in line]


@pytest.fixture
def update_file(shared_data: Path) -> Path:
    return shared_data / "pubmed" / "xml" / UPDATE_FILE


@pytest.fixture
def baseline(shared_data: Path, update_file: Path, tmp_path: Path) -> Path:
    """A baseline holding real records under the PMIDs the update file deletes."""
    donors = read_articles([shared_data / "pubmed" / "xml" / OTHER_FILE])
    doomed = deleted_pmids(update_file)
    path = tmp_path / "baseline.xml"
    path.write_bytes(pubmed_file(with_new_pmid(donors[index], pmid) for index, pmid in enumerate(doomed)))
    return path


def load_inline(*paths: Path) -> HarvestRun:
    run = runs.run_start_files(paths=list(paths), enqueue=False)
    return steps.run_files_inline(run_id=run.pk)


def live(pmids: list[str]) -> int:
    return EvidenceRecord.objects.filter(source="pubmed", source_id__in=pmids, deleted_at__isnull=True).count()


@pytest.mark.django_db(transaction=True)
def test_update_file_deletes_the_citations_it_deletes(baseline: Path, update_file: Path) -> None:
    doomed = deleted_pmids(update_file)
    first = load_inline(baseline)
    assert (first.status, first.new, live(doomed)) == (RunStatus.SUCCEEDED, len(doomed), len(doomed))

    second = load_inline(update_file)

    assert second.status == RunStatus.SUCCEEDED
    assert second.deleted == len(doomed) == 23
    assert live(doomed) == 0
    # Tombstoned, not forgotten: the rows remain with their deletion time, so search can drop them.
    assert EvidenceRecord.objects.filter(source_id__in=doomed, deleted_at__isnull=False).count() == len(doomed)
    assert second.new == 10


@pytest.mark.django_db(transaction=True)
def test_newer_version_in_a_later_file_replaces_the_older(shared_data: Path, tmp_path: Path) -> None:
    article = read_articles([shared_data / "pubmed" / "xml" / OTHER_FILE])[0]
    older = tmp_path / "pubmed-0001.xml"
    newer = tmp_path / "pubmed-0002.xml"
    older.write_bytes(pubmed_file([article]))
    newer.write_bytes(pubmed_file([with_new_pmid(article, article.pmid, title="Corrected title of the trial.")]))

    run = load_inline(older, newer)

    record = EvidenceRecord.objects.get(source="pubmed", source_id=article.pmid)
    assert record.title == "Corrected title of the trial."
    assert (run.new, run.updated, run.status) == (1, 1, RunStatus.SUCCEEDED)


@pytest.mark.django_db(transaction=True)
def test_record_and_its_deletion_in_one_file_end_deleted(shared_data: Path, tmp_path: Path) -> None:
    article = read_articles([shared_data / "pubmed" / "xml" / OTHER_FILE])[1]
    path = tmp_path / "update.xml"
    path.write_bytes(pubmed_file([article], deleted=[article.pmid]))

    load_inline(path)

    assert live([article.pmid]) == 0


@pytest.mark.django_db(transaction=True)
def test_same_file_loaded_twice_changes_nothing_the_second_time(baseline: Path) -> None:
    first = load_inline(baseline)
    second = load_inline(baseline)
    assert (second.new, second.updated, second.unchanged) == (0, 0, first.new)


@pytest.mark.django_db(transaction=True)
def test_unreadable_file_fails_its_run_with_the_reason_and_stores_the_rest(baseline: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 this is not gzip data")

    run = load_inline(baseline, broken)

    assert run.status == RunStatus.FAILED
    assert run.new == 23
    assert run.errors and "broken.xml.gz" in str(run.errors)


@pytest.mark.integration
@pytest.mark.slow
def test_files_load_through_a_real_worker_in_order(harvest_env, baseline: Path, update_file: Path) -> None:
    harvest_env.start_worker()

    result = harvest_env.manage("load_pubmed", str(baseline), str(update_file), "--wait")

    assert result.returncode == 0, result.stdout + result.stderr
    run = HarvestRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert not run.items.exclude(status=ItemStatus.DONE).exists()
    assert (run.new, run.deleted) == (33, 23)
    assert live(deleted_pmids(update_file)) == 0


@pytest.mark.django_db
def test_queueing_files_that_do_not_exist_is_refused_before_anything_is_queued(tmp_path: Path) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="not a readable file"):
        call_command("load_pubmed", str(tmp_path / "missing.xml.gz"), "--queue")
    assert not HarvestRun.objects.exists()


@pytest.mark.integration
@pytest.mark.slow
def test_a_large_file_is_parsed_ahead_inside_a_real_worker(harvest_env, shared_data: Path, tmp_path: Path) -> None:
    from ingest.pubmed import ahead

    donors = read_articles([shared_data / "pubmed" / "xml" / OTHER_FILE])
    count = 600
    path = tmp_path / "large.xml"
    path.write_bytes(
        pubmed_file(with_new_pmid(donors[index % len(donors)], str(39_000_000 + index)) for index in range(count))
    )
    assert path.stat().st_size >= ahead.MIN_BYTES  # so the worker parses it in a forked child
    harvest_env.start_worker()

    result = harvest_env.manage("load_pubmed", str(path), "--wait")

    assert result.returncode == 0, result.stdout + result.stderr
    run = HarvestRun.objects.get()
    assert (run.status, run.fetched, run.new, run.failed) == (RunStatus.SUCCEEDED, count, count, 0)
    assert EvidenceRecord.objects.filter(source_id__startswith="39", deleted_at__isnull=True).count() == count
