"""How the upsert finds stored records, and how long values are stored, on each database."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from records.models import EvidenceRecord
from records.services import records_upsert_batch, stored_rows
from tests.factories import EvidenceRecordFactory
from tests.records.test_record_services import T0, parsed

pytestmark = pytest.mark.django_db


def test_upsert_finds_stored_records_through_the_uid_index() -> None:
    # Before a table's first ANALYZE, PostgreSQL answered "source = ... AND source_id IN (...)"
    # through the two-column index by reading every row of the source: 100 ms per batch at
    # 100,000 rows. The uid lookup is one probe of the unique uid index per key.
    records_upsert_batch(parsed=[parsed(str(pmid)) for pmid in range(1, 1001)], harvested_at=T0)
    uids = [f"pubmed:{pmid}" for pmid in range(1, 1001, 2)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A table this small is cheapest to scan whole; the question is which index answers.
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = stored_rows(uids).explain()
        assert re.search(r"Index Scan (using|on) records_evidencerecord_uid", plan), plan
    else:
        plan = stored_rows(uids).explain()
        assert "(uid=?)" in plan, plan
    assert "source_id" not in plan, plan
    assert {row["source_id"] for row in stored_rows(uids)} == {str(pmid) for pmid in range(1, 1001, 2)}


def test_a_long_abstract_is_stored_compressed_and_read_back_whole() -> None:
    abstract = " ".join(f"Sentence {n} of a long structured abstract about blood pressure." for n in range(400))
    record = EvidenceRecordFactory(abstract=abstract)
    assert EvidenceRecord.objects.get(pk=record.pk).abstract == abstract
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_column_compression(abstract) FROM records_evidencerecord WHERE id = %s", [record.pk]
            )
            # Debian's PostgreSQL is built with lz4 (migration 0007 leaves pglz where it is not).
            assert cursor.fetchone()[0] == "lz4"
