"""records_upsert_batch and records_tombstone: idempotent, versioned, all-or-nothing per batch."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError

from records.models import EvidenceRecord
from records.services import content_hash, records_tombstone, records_upsert_batch
from records.types import AbstractSection, MeshHeading, ParsedRecord
from tests.factories import EvidenceRecordFactory

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=1)

pytestmark = pytest.mark.django_db


def parsed(pmid: str = "100", **changes: object) -> ParsedRecord:
    base = ParsedRecord(
        source="pubmed",
        source_id=pmid,
        title=f"Trial {pmid}",
        abstract_sections=(AbstractSection(text="Results.", label="RESULTS", category="RESULTS"),),
        journal="J Test",
        publication_date=date(2020, 5, 1),
        publication_date_raw="2020 May",
        authors=("Smith J",),
        languages=("eng", "fre"),
        publication_types=("Randomized Controlled Trial",),
        mesh_headings=(MeshHeading(descriptor="Hypertension", major=True, qualifiers=(("therapy", True),)),),
        comments_corrections=(("ErratumIn", "5"),),
        has_erratum=True,
    )
    return dataclasses.replace(base, **changes)


def test_new_records_are_stored_with_every_field() -> None:
    result = records_upsert_batch(parsed=[parsed("100"), parsed("101")], harvested_at=T0)
    assert (result.new, result.updated, result.unchanged) == (2, 0, 0)
    record = EvidenceRecord.objects.get(source="pubmed", source_id="100")
    assert sorted(result.changed_ids) == sorted(EvidenceRecord.objects.values_list("id", flat=True))
    assert record.uid == "pubmed:100" and record.pmid == "100"
    assert record.abstract == "RESULTS: Results."
    assert record.abstract_sections == [{"label": "RESULTS", "category": "RESULTS", "text": "Results."}]
    assert record.mesh_headings == [{"descriptor": "Hypertension", "major": True, "qualifiers": [["therapy", True]]}]
    assert record.publication_year == 2020 and record.publication_date == date(2020, 5, 1)
    assert record.language == "eng" and record.languages == ["eng", "fre"]
    assert record.comments_corrections == [["ErratumIn", "5"]] and record.has_erratum
    assert record.version == 1 and record.first_harvested_at == T0 == record.last_harvested_at
    assert record.content_hash == parsed("100").content_hash()


def test_same_content_again_changes_nothing_but_the_harvest_time() -> None:
    records_upsert_batch(parsed=[parsed("100")], harvested_at=T0)
    before = EvidenceRecord.objects.get()
    result = records_upsert_batch(parsed=[parsed("100")], harvested_at=T1)
    assert (result.new, result.updated, result.unchanged, result.changed_ids) == (0, 0, 1, [])
    after = EvidenceRecord.objects.get()
    assert after.version == 1 and after.updated_at == before.updated_at
    assert after.last_harvested_at == T1 and after.first_harvested_at == T0


def test_changed_content_increments_the_version_and_keeps_the_grade() -> None:
    records_upsert_batch(parsed=[parsed("100")], harvested_at=T0)
    EvidenceRecord.objects.update(evidence_level="rct")
    result = records_upsert_batch(parsed=[parsed("100", title="Trial 100, corrected")], harvested_at=T1)
    record = EvidenceRecord.objects.get()
    assert (result.new, result.updated, result.changed_ids) == (0, 1, [record.pk])
    assert record.version == 2 and record.title == "Trial 100, corrected"
    assert record.evidence_level == "rct", "grades are the grader's to change"
    assert record.first_harvested_at == T0 and record.last_harvested_at == T1


def test_duplicates_in_one_batch_last_wins_counted_once() -> None:
    result = records_upsert_batch(parsed=[parsed("100", title="first"), parsed("100", title="last")], harvested_at=T0)
    assert (result.new, result.updated, result.unchanged) == (1, 0, 0)
    assert EvidenceRecord.objects.get().title == "last"


def test_newer_source_version_replaces_and_older_never_overwrites() -> None:
    records_upsert_batch(parsed=[parsed("100", source_version=2, title="v2")], harvested_at=T0)
    older = records_upsert_batch(parsed=[parsed("100", source_version=1, title="v1")], harvested_at=T1)
    assert (older.updated, older.unchanged, older.stale) == (0, 1, 1)
    assert EvidenceRecord.objects.get().title == "v2"
    newer = records_upsert_batch(parsed=[parsed("100", source_version=3, title="v3")], harvested_at=T1)
    record = EvidenceRecord.objects.get()
    assert newer.updated == 1 and record.title == "v3" and record.source_version == 3


def test_newer_version_wins_inside_a_batch_whatever_the_order() -> None:
    records_upsert_batch(
        parsed=[parsed("100", source_version=2, title="v2"), parsed("100", title="v1")], harvested_at=T0
    )
    assert EvidenceRecord.objects.get().title == "v2"


def test_a_failing_batch_writes_nothing() -> None:
    bad = parsed("102", title=None)  # violates NOT NULL inside the bulk insert
    with pytest.raises(IntegrityError):
        records_upsert_batch(parsed=[parsed("100"), parsed("101"), bad], harvested_at=T0)
    assert EvidenceRecord.objects.count() == 0


def test_tombstone_marks_live_records_deleted_and_returns_their_ids() -> None:
    records_upsert_batch(parsed=[parsed("100"), parsed("101")], harvested_at=T0)
    ids = records_tombstone(source="pubmed", source_ids=["100", "999"], deleted_at=T1)
    record = EvidenceRecord.objects.get(source_id="100")
    assert ids == [record.pk] and record.deleted_at == T1 and record.is_deleted
    assert EvidenceRecord.objects.get(source_id="101").deleted_at is None
    assert records_tombstone(source="pubmed", source_ids=["100"], deleted_at=T1) == [], "already a tombstone"


def test_tombstoned_record_that_comes_back_is_live_again() -> None:
    records_upsert_batch(parsed=[parsed("100")], harvested_at=T0)
    records_tombstone(source="pubmed", source_ids=["100"], deleted_at=T1)
    result = records_upsert_batch(parsed=[parsed("100")], harvested_at=T1)
    record = EvidenceRecord.objects.get()
    assert result.updated == 1 and record.deleted_at is None and record.version == 2


def test_factory_records_are_not_confused_with_other_sources() -> None:
    guideline = EvidenceRecordFactory(guideline=True, source_id="100")
    records_upsert_batch(parsed=[parsed("100")], harvested_at=T0)
    assert EvidenceRecord.objects.count() == 2
    guideline.refresh_from_db()
    assert guideline.version == 1 and guideline.kind == "guideline"


def test_upsert_uses_a_fixed_number_of_queries_per_batch(django_assert_max_num_queries) -> None:
    records_upsert_batch(parsed=[parsed(str(n)) for n in range(50)], harvested_at=T0)
    changed = [parsed(str(n), title="changed") for n in range(25)] + [parsed(str(n)) for n in range(25, 50)]
    changed += [parsed(str(n)) for n in range(50, 100)]
    with django_assert_max_num_queries(8):
        result = records_upsert_batch(parsed=changed, harvested_at=T1)
    assert (result.new, result.updated, result.unchanged) == (50, 25, 25)


def test_fast_content_hash_equals_the_dataclass_hash() -> None:
    record = parsed("100", publication_date=None, keywords=("a", "b"))
    assert content_hash(record) == record.content_hash()
    assert content_hash(parsed("100")) == parsed("100").content_hash()


def test_selectors_read_what_the_services_wrote() -> None:
    from records.selectors import record_get_by_pmid, record_get_by_uid, record_totals, records_by_ids

    result = records_upsert_batch(parsed=[parsed("100"), parsed("101", retracted=True)], harvested_at=T0)
    records_tombstone(source="pubmed", source_ids=["100"], deleted_at=T1)
    assert record_get_by_uid(uid="pubmed:101").source_id == "101"
    assert record_get_by_pmid(pmid=" 100 ").is_deleted
    assert [r.source_id for r in records_by_ids(ids=list(reversed(result.changed_ids)))] == ["101"]
    assert len(records_by_ids(ids=result.changed_ids, include_deleted=True)) == 2
    totals = record_totals()
    assert (totals.total, totals.live, totals.deleted, totals.retracted, totals.graded) == (2, 1, 1, 1, 0)


def test_admin_lists_and_finds_records_by_pmid(admin_client) -> None:
    records_upsert_batch(parsed=[parsed("100"), parsed("101")], harvested_at=T0)
    page = admin_client.get("/admin/records/evidencerecord/", {"q": "101"})
    assert page.status_code == 200
    assert b"pubmed:101" in page.content and b"pubmed:100" not in page.content


def test_stored_columns_are_what_the_orm_would_store() -> None:
    from django.db import connection

    from records.services import record_fields

    record = parsed("100", title="Étude «ü»", keywords=("\u03b1", "b"))
    records_upsert_batch(parsed=[record], harvested_at=T0)
    twin = EvidenceRecord(source="pubmed", source_id="200", first_harvested_at=T0, last_harvested_at=T0)
    for name, value in record_fields(record).items():
        setattr(twin, name, value)
    twin.save()
    columns = [
        f.column for f in EvidenceRecord._meta.concrete_fields if f.name not in ("id", "source_id", "uid", "pmid")
    ]
    columns.remove("updated_at")
    table = EvidenceRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY source_id")
        raw, orm = cursor.fetchall()
    assert dict(zip(columns, raw, strict=True)) == dict(zip(columns, orm, strict=True))
