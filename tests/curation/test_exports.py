"""Exports parsed back: RIS with rispy, BibTeX with bibtexparser, CSV and JSON round-trips."""

from __future__ import annotations

import csv
import io
import json

import bibtexparser
import pytest
import rispy
from django.contrib.auth.models import User

from curation import exports, services, snapshots
from curation.models import Collection
from records.models import EvidenceRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(collection: Collection, owner: User, records: list[EvidenceRecord]) -> Collection:
    notes = ["Pivotal, see table 2", 'Pooled "RR" 0.8; {braces}', "Long follow-up\nsecond line", ""]
    for record, note in zip(records, notes, strict=True):
        item = services.item_add(user=owner, collection=collection, record=record.uid, note=note)
        services.item_update(user=owner, item=item, tags=["adults", "BP"], decision="include", certainty="moderate")
    return collection


def _rows(collection: Collection) -> list[exports.ExportRow]:
    return exports.collection_rows(collection)


def test_ris_parses_back_with_rispy(filled: Collection, records: list[EvidenceRecord]) -> None:
    text = exports.render("ris", _rows(filled), header={})
    entries = rispy.loads(text)
    assert [entry["title"] for entry in entries] == [record.title for record in records]
    assert entries[0]["type_of_reference"] == "JOUR"
    assert entries[3]["type_of_reference"] == "GEN"
    assert entries[0]["doi"] == records[0].doi


def test_bibtex_parses_back_with_bibtexparser(filled: Collection, records: list[EvidenceRecord]) -> None:
    text = exports.render("bibtex", _rows(filled), header={})
    database = bibtexparser.loads(text)
    assert len(database.entries) == 4
    by_key = {entry["ID"]: entry for entry in database.entries}
    assert by_key[f"pmid{records[0].pmid}"]["title"].strip("{}") == records[0].title


def test_csv_round_trips(filled: Collection) -> None:
    rows = _rows(filled)
    parsed = list(csv.DictReader(io.StringIO(exports.render("csv", rows, header={}))))
    assert len(parsed) == 4
    for row, line in zip(rows, parsed, strict=True):
        expected = row.as_dict()
        assert line["record"] == expected["record"]
        assert line["note"] == expected["note"]
        assert line["tags"].split("; ") == expected["tags"]
        assert line["authors"].split("; ") == expected["authors"]
        assert int(line["position"]) == expected["position"]
        assert line["decision"] == "include"


def test_csv_defuses_spreadsheet_formulas(collection: Collection, owner: User, records: list[EvidenceRecord]) -> None:
    services.item_add(user=owner, collection=collection, record=records[0].uid, note="=HYPERLINK(1)")
    parsed = list(csv.DictReader(io.StringIO(exports.render("csv", _rows(collection), header={}))))
    assert parsed[0]["note"] == "'=HYPERLINK(1)"


def test_json_round_trips(filled: Collection) -> None:
    rows = _rows(filled)
    data = json.loads(exports.render("json", rows, header=exports.collection_header(filled)))
    assert data["collection"]["name"] == "Hypertension in adults"
    assert data["items"] == [row.as_dict() for row in rows]


def test_evidence_table_groups_by_level_strongest_first(filled: Collection) -> None:
    groups = exports.evidence_table(_rows(filled))
    assert [group.level for group in groups] == ["guideline", "systematic_review", "rct", "cohort"]
    lines = list(csv.reader(io.StringIO(exports.render("table-csv", _rows(filled), header={}))))
    assert tuple(lines[0]) == exports.TABLE_COLUMNS
    assert [line[0] for line in lines[1:]] == [group.name for group in groups]
    assert lines[3][1] == "Randomized Controlled Trial"


def test_snapshot_export_uses_the_frozen_fields(filled: Collection, owner: User, records: list[EvidenceRecord]) -> None:
    snapshot = snapshots.snapshot_create(user=owner, collection=filled)
    original_title = records[0].title
    records[0].title = "Revised title"
    records[0].version = 2
    records[0].save()
    entries = rispy.loads(exports.render("ris", exports.snapshot_rows(snapshot), header={}))
    assert entries[0]["title"] == original_title
    data = json.loads(exports.render("json", exports.snapshot_rows(snapshot), header=exports.snapshot_header(snapshot)))
    assert data["snapshot"]["content_hash"] == snapshot.content_hash
    assert data["items"][0]["record_version"] == 1


def test_unknown_format_is_a_clear_error(filled: Collection) -> None:
    with pytest.raises(ValueError, match="Unknown export format"):
        exports.render("docx", _rows(filled), header={})
