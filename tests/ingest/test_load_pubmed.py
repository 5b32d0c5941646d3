"""load_pubmed_paths and `manage.py load_pubmed`: counts, idempotence, bad input, deletions."""

from __future__ import annotations

import gzip
import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ingest.services import last_file_of_each_pmid, load_pubmed_paths
from records.models import EvidenceRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pubmed"

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("load_pubmed", *args, "--no-hand-off", stdout=out)
    return out.getvalue()


def test_command_prints_counts_and_a_second_load_says_nothing_changed() -> None:
    first = run_command(str(FIXTURES))
    # baseline_citationset.xml sorts first and deletes 90000001, which a later file holds again:
    # the later copy wins, so the deletion is not applied (and reloading changes nothing).
    assert "4 file(s): read 13, new 13, updated 0, unchanged 0, superseded 0, deleted 0, skipped 0" in first
    assert EvidenceRecord.objects.count() == 13
    second = run_command(str(FIXTURES))
    assert "read 13, new 0, updated 0, unchanged 13, superseded 0, deleted 0, skipped 0" in second
    assert "Nothing changed" in second
    assert set(EvidenceRecord.objects.values_list("version", flat=True)) == {1}


def test_delete_citation_after_the_record_leaves_a_tombstone() -> None:
    # efetch_fields.xml holds 90000001; the baseline file after it deletes it.
    counts = load_pubmed_paths(paths=[FIXTURES / "efetch_fields.xml", FIXTURES / "baseline_citationset.xml"])
    assert counts.deleted == 1 and counts.deletions_read == 2
    record = EvidenceRecord.objects.get(source_id="90000001")
    assert record.deleted_at is not None
    assert EvidenceRecord.objects.filter(deleted_at__isnull=True).count() == 6


def test_changed_file_updates_and_bumps_version(tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    shutil.copy(FIXTURES / "medline_fields.txt", path)
    load_pubmed_paths(paths=[path])
    path.write_text(path.read_text().replace("TI  - A retracted study.", "TI  - A retracted study, corrected."))
    counts = load_pubmed_paths(paths=[path])
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 2)
    record = EvidenceRecord.objects.get(source_id="90000033")
    assert record.version == 2 and record.title == "A retracted study, corrected."


def test_on_changed_gets_the_ids_of_each_committed_batch() -> None:
    calls: list[list[int]] = []
    load_pubmed_paths(paths=[FIXTURES / "medline_fields.txt"], batch_size=2, on_changed=calls.append)
    assert [len(ids) for ids in calls] == [2, 1]
    assert sorted(id_ for ids in calls for id_ in ids) == sorted(EvidenceRecord.objects.values_list("id", flat=True))
    calls.clear()
    load_pubmed_paths(paths=[FIXTURES / "medline_fields.txt"], on_changed=calls.append)
    assert calls == [], "nothing changed, nothing handed on"


def test_bad_files_are_reported_and_the_rest_of_the_load_happens(tmp_path: Path) -> None:
    (tmp_path / "a_empty.xml").write_bytes(b"")
    (tmp_path / "b_not_xml.xml").write_bytes(b"\x89PNG\r\n\x1a\n")
    good = FIXTURES / "efetch_fields.xml"
    body = good.read_bytes()
    (tmp_path / "c_malformed.xml").write_bytes(
        body.split(b"</PubmedArticle>")[0] + b"</PubmedArticle><PubmedArticle><Oops>"
    )
    compressed = gzip.compress((FIXTURES / "medline_fields.txt").read_bytes() * 50)
    (tmp_path / "d_truncated.txt.gz").write_bytes(compressed[: len(compressed) // 2])
    (tmp_path / "e_no_pmid_no_title.txt").write_text(
        "TI  - orphan\n\nPMID- 77\nAB  - untitled\n\nPMID- 78\nTI  - Fine\n"
    )
    shutil.copy(FIXTURES / "concatenated.xml", tmp_path / "f_good.xml")
    output = run_command(str(tmp_path))
    stored = set(EvidenceRecord.objects.values_list("source_id", flat=True))
    assert {"90000001", "78", "90000021", "90000022", "90000023"} <= stored
    assert "77" not in stored
    assert "skipped 6" in output
    for expected in (
        "a_empty.xml: file is empty",
        "b_not_xml.xml: not PubMed XML or MEDLINE text",
        "c_malformed.xml: malformed XML at line",
        "d_truncated.txt.gz: file is truncated or unreadable",
        "e_no_pmid_no_title.txt: line 1: record has no PMID; skipped",
        "PMID 77 has no title",
    ):
        assert expected in output, expected
    # Nothing half-written: every stored record has its title and hash.
    assert not EvidenceRecord.objects.filter(title="").exists()
    assert not EvidenceRecord.objects.filter(content_hash="").exists()


def test_command_fails_only_when_nothing_could_be_read(tmp_path: Path) -> None:
    (tmp_path / "empty.xml").write_bytes(b"")
    with pytest.raises(CommandError, match="nothing could be read"):
        run_command(str(tmp_path))
    with pytest.raises(CommandError, match="nothing could be read"):
        run_command(str(tmp_path / "missing.xml"))


def test_same_pmid_in_two_files_keeps_the_last_file_and_reloads_change_nothing(tmp_path: Path) -> None:
    first, second = tmp_path / "1.txt", tmp_path / "2.txt"
    first.write_text("PMID- 5\nTI  - Export one\n\nPMID- 6\nTI  - Only here\n")
    second.write_text("PMID- 5\nTI  - Export two\n")
    counts = load_pubmed_paths(paths=[tmp_path])
    assert (counts.read, counts.new, counts.superseded) == (3, 2, 1)
    assert EvidenceRecord.objects.get(source_id="5").title == "Export two"
    again = load_pubmed_paths(paths=[tmp_path])
    assert (again.new, again.updated, again.unchanged, again.superseded) == (0, 0, 2, 1)
    assert EvidenceRecord.objects.get(source_id="5").version == 1


def test_deletion_then_the_record_in_a_later_load_revives_it() -> None:
    load_pubmed_paths(paths=[FIXTURES / "efetch_fields.xml"])
    deleted = load_pubmed_paths(paths=[FIXTURES / "baseline_citationset.xml"])
    assert deleted.deleted == 1
    back = load_pubmed_paths(paths=[FIXTURES / "efetch_fields.xml"])
    assert back.updated == 1
    assert EvidenceRecord.objects.get(source_id="90000001").deleted_at is None


def test_pmid_scan_finds_the_citations_of_every_format() -> None:
    files = sorted(FIXTURES.iterdir())
    last = last_file_of_each_pmid(files)
    assert set(last) == {
        "90000001", "90000002", "90000003", "90000004", "90000005",  # efetch (book included)
        "90000011", "90000012",  # baseline; DeleteCitation PMIDs are not citations
        "90000021", "90000022", "90000023",
        "90000031", "90000032", "90000033",
    }  # fmt: skip


@pytest.mark.shared_data
@pytest.mark.slow
def test_loading_all_shared_pubmed_data_is_consistent_and_idempotent(shared_data: Path) -> None:
    from ingest.pubmed import iter_input_paths
    from ingest.services import _scan_pmids

    pubmed = shared_data / "pubmed"
    files = list(iter_input_paths([pubmed]))
    # An independent count: a byte scan for citation PMIDs, no parsing.
    occurrences = sum(1 for path in files for _ in _scan_pmids(path))
    pmids = set(last_file_of_each_pmid(files))
    counts = load_pubmed_paths(paths=[pubmed], batch_size=1000)
    record_problems = [problem for problem in counts.problems if problem.source_id]
    assert counts.read + len(record_problems) == occurrences
    assert counts.read == counts.new + counts.updated + counts.unchanged + counts.superseded
    assert counts.skipped == len(counts.problems)
    stored = EvidenceRecord.objects.count()
    assert counts.new == stored == len(pmids) - len({problem.source_id for problem in record_problems})
    assert stored > 20_000
    again = load_pubmed_paths(paths=[pubmed], batch_size=1000)
    assert (again.new, again.updated, again.deleted) == (0, 0, 0)
    assert again.unchanged == stored - counts.deleted
    assert EvidenceRecord.objects.count() == stored
    assert EvidenceRecord.objects.exclude(version=1).count() == 0
