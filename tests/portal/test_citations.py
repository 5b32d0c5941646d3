from __future__ import annotations

import bibtexparser
import rispy

from records.citations import bibtex_escape, records_to_bibtex, records_to_ris
from records.models import EvidenceRecord


def make_record(**overrides: object) -> EvidenceRecord:
    values: dict[str, object] = {
        "source": "pubmed",
        "source_id": "31415926",
        "pmid": "31415926",
        "title": "Statins for primary prevention: a systematic review",
        "abstract": "BACKGROUND: Statins lower LDL.\nCONCLUSIONS: They help.",
        "journal": "The Lancet",
        "journal_abbreviation": "Lancet",
        "publication_year": 2019,
        "publication_date_raw": "2019 Mar",
        "authors": ["Smith, Jane", "Doe, John"],
        "doi": "10.1000/xyz123",
        "pmcid": "PMC123456",
        "language": "eng",
        "mesh_headings": [{"descriptor": "Hydroxymethylglutaryl-CoA Reductase Inhibitors", "major": True}],
        "keywords": ["statins"],
    }
    values.update(overrides)
    return EvidenceRecord(**values)


def test_ris_export_round_trips_through_a_ris_reader() -> None:
    text = records_to_ris([make_record(), make_record(pmid="2", source_id="2", title="Second")])
    entries = rispy.loads(text)
    assert len(entries) == 2
    first = entries[0]
    assert first["type_of_reference"] == "JOUR"
    assert first["title"] == "Statins for primary prevention: a systematic review"
    assert first["authors"] == ["Smith, Jane", "Doe, John"]
    assert first["doi"] == "10.1000/xyz123"
    assert first["year"] == "2019"
    assert "https://pubmed.ncbi.nlm.nih.gov/31415926/" in first["urls"]
    assert entries[1]["title"] == "Second"


def test_ris_puts_a_multi_line_abstract_on_one_line() -> None:
    text = records_to_ris([make_record(abstract="line one\nER  - injected\nline three")])
    entries = rispy.loads(text)
    assert len(entries) == 1
    assert entries[0]["abstract"] == "line one ER - injected line three"


def test_ris_marks_retracted_records_in_the_title() -> None:
    entry = rispy.loads(records_to_ris([make_record(retracted=True)]))[0]
    assert entry["title"].startswith("[Retracted] ")


def test_bibtex_export_parses_with_one_entry_per_record() -> None:
    text = records_to_bibtex([make_record(), make_record(pmid="2", source_id="2", title="Second")])
    database = bibtexparser.loads(text)
    assert [entry["ID"] for entry in database.entries] == ["pmid31415926", "pmid2"]
    first = database.entries[0]
    assert first["ENTRYTYPE"] == "article"
    assert first["author"] == "Smith, Jane and Doe, John"
    assert first["journal"] == "The Lancet"
    assert first["year"] == "2019"
    assert first["doi"] == "10.1000/xyz123"


def test_bibtex_escapes_braces_and_latex_specials_in_titles() -> None:
    text = records_to_bibtex([make_record(title="50% of {broken} titles & $money_}")])
    database = bibtexparser.loads(text)
    assert len(database.entries) == 1
    entry = database.entries[0]
    assert entry["title"] == (r"{50\% of \textbraceleft{}broken\textbraceright{} titles \& \$money\_\textbraceright{}}")
    # The escaped braces did not close the field early: the fields after it are intact.
    assert entry["year"] == "2019"
    assert entry["doi"] == "10.1000/xyz123"


def test_bibtex_escape_leaves_plain_text_alone() -> None:
    assert bibtex_escape("Aspirin  after\nstroke") == "Aspirin after stroke"


def test_guidelines_export_as_generic_and_misc_with_issuing_body() -> None:
    guideline = make_record(
        kind="guideline",
        source="uspstf",
        source_id="statin-2022",
        pmid="",
        issuing_body="USPSTF",
        url="https://x.org/g",
    )
    ris = rispy.loads(records_to_ris([guideline]))[0]
    assert ris["type_of_reference"] == "GEN"
    assert ris["publisher"] == "USPSTF"
    bib = bibtexparser.loads(records_to_bibtex([guideline])).entries[0]
    assert bib["ENTRYTYPE"] == "misc"
    assert bib["ID"] == "uspstfstatin-2022"


def test_empty_record_list_exports_empty_text() -> None:
    assert records_to_ris([]) == ""
    assert records_to_bibtex([]) == ""
