"""Exports of a collection or a snapshot: RIS, BibTeX, CSV, JSON and the evidence table.

Live collections export their records as they are now; snapshots export the fields frozen in
them (rebuilt as unsaved records so the citation code sees the same shape).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext

from curation.models import Collection, CollectionItem, Snapshot, SnapshotItem
from curation.selectors import collection_items, snapshot_items
from records.citations import BIBTEX_MEDIA_TYPE, RIS_MEDIA_TYPE, records_to_bibtex, records_to_ris
from records.evidence.levels import LEVELS, level_info
from records.models import EvidenceRecord

FORMATS = ("ris", "bibtex", "csv", "json", "table-csv")
MEDIA_TYPES = {
    "ris": RIS_MEDIA_TYPE,
    "bibtex": BIBTEX_MEDIA_TYPE,
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "table-csv": "text/csv; charset=utf-8",
}
EXTENSIONS = {"ris": "ris", "bibtex": "bib", "csv": "csv", "json": "json", "table-csv": "csv"}
CSV_COLUMNS = (
    "position",
    "record",
    "pmid",
    "record_version",
    "title",
    "authors",
    "journal",
    "year",
    "doi",
    "evidence_level",
    "retracted",
    "decision",
    "exclusion_reason",
    "certainty",
    "tags",
    "note",
)
TABLE_COLUMNS = ("level", "design", "record", "title", "year", "decision", "certainty", "note")


@dataclass(frozen=True)
class ExportRow:
    position: int
    record: EvidenceRecord  # live, or rebuilt from a snapshot's frozen fields
    note: str
    tags: list[str]
    decision: str
    exclusion_reason: str
    certainty: str

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            "position": self.position,
            "record": record.uid,
            "pmid": record.pmid,
            "record_version": record.version,
            "title": record.title,
            "authors": [str(author) for author in record.authors or []],
            "journal": record.journal,
            "year": record.publication_year,
            "doi": record.doi,
            "evidence_level": record.evidence_level or "",
            "retracted": record.retracted,
            "decision": self.decision,
            "exclusion_reason": self.exclusion_reason,
            "certainty": self.certainty,
            "tags": list(self.tags),
            "note": self.note,
        }


def _frozen_record(item: SnapshotItem) -> EvidenceRecord:
    source, _, source_id = item.record_uid.partition(":")
    record = EvidenceRecord(
        kind=item.kind,
        source=source,
        source_id=source_id,
        pmid=item.pmid,
        title=item.title,
        authors=item.authors,
        journal=item.journal,
        publication_year=item.publication_year,
        publication_date_raw=item.publication_date_raw,
        doi=item.doi,
        url=item.url,
        issuing_body=item.issuing_body,
        publication_types=item.publication_types,
        evidence_level=item.evidence_level or None,
        retracted=item.retracted,
        version=item.record_version,
    )
    record.uid = item.record_uid
    return record


def collection_rows(collection: Collection) -> list[ExportRow]:
    return [_live_row(position, item) for position, item in enumerate(collection_items(collection), start=1)]


def _live_row(position: int, item: CollectionItem) -> ExportRow:
    return ExportRow(
        position=position,
        record=item.record,
        note=item.note,
        tags=list(item.tags or []),
        decision=item.decision,
        exclusion_reason=item.exclusion_reason,
        certainty=item.certainty,
    )


def snapshot_rows(snapshot: Snapshot) -> list[ExportRow]:
    return [
        ExportRow(
            position=item.position,
            record=_frozen_record(item),
            note=item.note,
            tags=list(item.tags or []),
            decision=item.decision,
            exclusion_reason=item.exclusion_reason,
            certainty=item.certainty,
        )
        for item in snapshot_items(snapshot)
    ]


def to_csv(rows: Sequence[ExportRow]) -> str:
    """Return one CSV line per item; authors and tags are joined with "; "."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        values = row.as_dict()
        values["authors"] = "; ".join(values["authors"])
        values["tags"] = "; ".join(values["tags"])
        values["year"] = "" if values["year"] is None else values["year"]
        values["retracted"] = "yes" if values["retracted"] else "no"
        writer.writerow({key: _csv_safe(value) for key, value in values.items()})
    return buffer.getvalue()


def _csv_safe(value: object) -> object:
    # Spreadsheets run cells that start with these as formulas; a leading quote defuses them.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_json(rows: Sequence[ExportRow], *, header: dict[str, Any]) -> str:
    return json.dumps({**header, "items": [row.as_dict() for row in rows]}, ensure_ascii=False, indent=2)


@dataclass(frozen=True)
class TableGroup:
    level: str
    name: str
    rows: list[ExportRow]


def evidence_table(rows: Sequence[ExportRow]) -> list[TableGroup]:
    """Return the items grouped by evidence level, strongest level first, list order within."""
    groups = []
    for info in LEVELS:
        members = [row for row in rows if level_info(row.record.evidence_level).level == info.level]
        if members:
            groups.append(TableGroup(level=info.level.value, name=gettext(info.name), rows=members))
    return groups


def to_table_csv(rows: Sequence[ExportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TABLE_COLUMNS)
    for group in evidence_table(rows):
        for row in group.rows:
            record = row.record
            design = "; ".join(record.publication_types or []) or group.name
            writer.writerow(
                [
                    _csv_safe(value)
                    for value in (
                        group.name,
                        design,
                        record.pmid or record.uid,
                        record.title,
                        record.publication_year or "",
                        row.decision,
                        row.certainty,
                        row.note,
                    )
                ]
            )
    return buffer.getvalue()


def render(fmt: str, rows: Sequence[ExportRow], *, header: dict[str, Any]) -> str:
    """Return the export text in ``fmt`` (one of FORMATS); ValueError for another format."""
    if fmt == "ris":
        return records_to_ris([row.record for row in rows])
    if fmt == "bibtex":
        return records_to_bibtex([row.record for row in rows])
    if fmt == "csv":
        return to_csv(rows)
    if fmt == "json":
        return to_json(rows, header=header)
    if fmt == "table-csv":
        return to_table_csv(rows)
    raise ValueError(f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")


def collection_header(collection: Collection) -> dict[str, Any]:
    return {"collection": {"id": collection.pk, "name": collection.name, "description": collection.description}}


def snapshot_header(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "collection": {"id": snapshot.collection_id, "name": snapshot.name, "description": snapshot.description},
        "snapshot": {
            "id": snapshot.pk,
            "number": snapshot.number,
            "label": snapshot.label,
            "created_at": snapshot.created_at.isoformat(),
            "content_hash": snapshot.content_hash,
        },
    }


def filename(base: str, fmt: str) -> str:
    safe = "".join(char if char.isalnum() or char in "-_" else "-" for char in base).strip("-")[:60] or "collection"
    return f"{safe}.{EXTENSIONS[fmt]}"
