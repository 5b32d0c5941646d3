"""Reads of evidence records that more than one area needs (views and tasks call these)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from records.models import EvidenceRecord


def records_live() -> QuerySet[EvidenceRecord]:
    """Return the records that are not tombstoned."""
    return EvidenceRecord.objects.filter(deleted_at__isnull=True)


def record_get_by_uid(*, uid: str) -> EvidenceRecord | None:
    """Return the record stored under ``source:source_id`` (tombstones included), or None."""
    return EvidenceRecord.objects.filter(uid=uid).first()


def record_get_by_pmid(*, pmid: str) -> EvidenceRecord | None:
    """Return the PubMed record with this PMID (tombstones included), or None."""
    return EvidenceRecord.objects.filter(source="pubmed", source_id=pmid.strip()).first()


def records_by_ids(*, ids: Iterable[int], include_deleted: bool = False) -> list[EvidenceRecord]:
    """Return the records with these pks in the order given (missing ones left out)."""
    wanted = list(ids)
    queryset = EvidenceRecord.objects.filter(pk__in=wanted)
    if not include_deleted:
        queryset = queryset.filter(deleted_at__isnull=True)
    by_id = {record.pk: record for record in queryset}
    return [by_id[pk] for pk in wanted if pk in by_id]


def records_by_source_ids(*, source: str, source_ids: Sequence[str]) -> dict[str, EvidenceRecord]:
    """Return ``{source_id: record}`` for the stored ones among ``source_ids``."""
    return {
        record.source_id: record
        for record in EvidenceRecord.objects.filter(source=source, source_id__in=list(source_ids))
    }


@dataclass(frozen=True)
class RecordTotals:
    """How many records are stored: all, live, tombstoned, retracted, graded."""

    total: int
    live: int
    deleted: int
    retracted: int
    graded: int


def record_totals() -> RecordTotals:
    """Return the record totals in one query."""
    row = EvidenceRecord.objects.aggregate(
        total=Count("id"),
        live=Count("id", filter=Q(deleted_at__isnull=True)),
        retracted=Count("id", filter=Q(retracted=True, deleted_at__isnull=True)),
        graded=Count("id", filter=Q(evidence_level__isnull=False, deleted_at__isnull=True)),
    )
    return RecordTotals(
        total=row["total"],
        live=row["live"],
        deleted=row["total"] - row["live"],
        retracted=row["retracted"],
        graded=row["graded"],
    )
