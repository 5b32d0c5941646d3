"""The ranking-column query is answered from the covering index on each database, by its plan."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from records.models import EvidenceRecord
from search.services import _rank_meta, rank_meta_sql
from tests.factories import EvidenceRecordFactory

ROWS = 6000
CANDIDATES = 400


def _fill_table() -> list[str]:
    """Store ROWS live records (plus a few tombstones) and return the uids of the candidates."""
    template = EvidenceRecordFactory()
    values = {
        field.attname: getattr(template, field.attname)
        for field in EvidenceRecord._meta.concrete_fields
        if not field.primary_key
    }
    rows = []
    for n in range(ROWS):
        source_id = str(70_000_000 + n)
        rows.append(
            EvidenceRecord(
                **{
                    **values,
                    "source_id": source_id,
                    "pmid": source_id,
                    "uid": f"pubmed:{source_id}",
                    "publication_year": 1990 + n % 35,
                }
            )
        )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The test cluster commits asynchronously; VACUUM marks rows all-visible only once
            # their commit is on disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = on")
        EvidenceRecord.objects.bulk_create(rows, batch_size=1000)
    return [f"pubmed:{70_000_000 + n}" for n in range(0, ROWS, ROWS // CANDIDATES)]


def _plan(uids: list[str]) -> str:
    sql = rank_meta_sql(len(uids))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Fresh statistics and visibility map, as autovacuum leaves a live table.
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(EvidenceRecord._meta.db_table)}")
            cursor.execute(f"EXPLAIN {sql}", uids)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", uids)
        return "\n".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


@pytest.mark.django_db(transaction=True)  # VACUUM cannot run inside the test's transaction
def test_rank_meta_reads_only_the_covering_index() -> None:
    uids = _fill_table()
    plan = _plan(uids)
    if connection.vendor == "postgresql":
        assert "Index Only Scan" in plan, plan
    else:
        assert "COVERING INDEX record_rank_meta" in plan, plan
    meta = _rank_meta(uids)
    assert len(meta) == len(uids)
    assert {m.publication_year for m in meta.values()} <= set(range(1990, 2025))


@pytest.mark.django_db
def test_rank_meta_leaves_out_tombstones() -> None:
    live, dead = EvidenceRecordFactory(publication_year=2021), EvidenceRecordFactory()
    EvidenceRecord.objects.filter(pk=dead.pk).update(deleted_at=dead.last_harvested_at)
    meta = _rank_meta([live.uid, dead.uid])
    assert set(meta) == {live.uid}  # tombstones never rank
    assert meta[live.uid].publication_year == 2021
    assert meta[live.uid].evidence_level == live.evidence_level
