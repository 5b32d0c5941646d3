"""The MEDLINE text parser (PubMed "Save: PubMed format", .txt/.nbib) on hand-written fixtures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ingest.pubmed import iter_pubmed_file, parse_medline_text
from ingest.pubmed.medline import mesh_heading, split_abstract
from records.types import AbstractSection, MeshHeading, ParsedRecord, ParseProblem

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pubmed"


@pytest.fixture(scope="module")
def medline() -> dict[str, ParsedRecord]:
    items = list(iter_pubmed_file(FIXTURES / "medline_fields.txt"))
    assert not [item for item in items if isinstance(item, ParseProblem)]
    return {item.source_id: item for item in items if isinstance(item, ParsedRecord)}


def test_every_record_of_the_file_is_read(medline: dict[str, ParsedRecord]) -> None:
    assert list(medline) == ["90000031", "90000032", "90000033"]


def test_continuation_lines_are_joined_and_crlf_is_stripped(medline: dict[str, ParsedRecord]) -> None:
    assert medline["90000031"].title == (
        "A MEDLINE record whose title is long enough to wrap onto a second line of the export file."
    )


def test_labelled_abstract_is_split_into_sections(medline: dict[str, ParsedRecord]) -> None:
    assert medline["90000031"].abstract_sections == (
        AbstractSection(text="Sage may lower blood pressure.", label="BACKGROUND"),
        AbstractSection(text="We randomised 60 adults to sage or placebo.", label="METHODS"),
        AbstractSection(text="Pressure fell by 5 mmHg.", label="RESULTS"),
        AbstractSection(text="Sage helps.", label="CONCLUSIONS"),
    )


def test_journal_date_authors_language_and_ids(medline: dict[str, ParsedRecord]) -> None:
    record = medline["90000031"]
    assert record.journal == "The Journal of Hand-Written Fixtures"
    assert record.journal_abbreviation == "J Hand Fixt"
    assert record.publication_date == date(2000, 3, 1)
    assert record.publication_date_raw == "2000 Spring-Summer"
    assert record.authors == ("Smith JA", "Doe J", "Sage Study Group")
    assert record.languages == ("eng",)
    assert record.doi == "10.1000/fixture.031"
    assert record.pmcid == "PMC9000031"
    assert record.publication_status == "MEDLINE"
    assert record.source_version == 1


def test_upper_case_journal_article_is_normalised(medline: dict[str, ParsedRecord]) -> None:
    assert medline["90000031"].publication_types == ("Journal Article", "Randomized Controlled Trial")


def test_mesh_star_marks_major_descriptor_and_qualifiers(medline: dict[str, ParsedRecord]) -> None:
    assert medline["90000031"].mesh_headings == (
        MeshHeading(descriptor="Humans"),
        MeshHeading(
            descriptor="Hypertension", major=True, qualifiers=(("drug therapy", False), ("prevention & control", True))
        ),
        MeshHeading(descriptor="Salvia", major=False, qualifiers=(("chemistry", True),)),
    )


def test_other_terms_are_keywords(medline: dict[str, ParsedRecord]) -> None:
    assert medline["90000031"].keywords == ("sage", "blood pressure")


def test_erratum_and_comment_tags_become_pairs_and_flags(medline: dict[str, ParsedRecord]) -> None:
    record = medline["90000031"]
    assert record.has_erratum is True and record.retracted is False
    assert record.comments_corrections == (("CommentIn", "90000132"), ("ErratumIn", "90000131"))


def test_retraction_of_marks_a_notice_and_2019_winter_is_a_date(medline: dict[str, ParsedRecord]) -> None:
    record = medline["90000032"]
    assert record.retraction_notice is True and record.retracted is False
    assert record.publication_date == date(2019, 1, 1) and record.publication_date_raw == "2019 Winter"
    assert record.publication_status == "Publisher"


def test_retraction_in_marks_the_record_retracted(medline: dict[str, ParsedRecord]) -> None:
    record = medline["90000033"]
    assert record.retracted is True
    assert record.comments_corrections == (("RetractionIn", "90000302"),)
    assert record.publication_status == "PubMed-not-MEDLINE"


def test_record_without_pmid_is_a_problem_and_others_still_read() -> None:
    lines = ["TI  - Orphan record", "PT  - Journal Article", "", "PMID- 5", "TI  - Fine", ""]
    problem, record = parse_medline_text(lines, location="x.txt")
    assert isinstance(problem, ParseProblem) and problem.location == "x.txt: line 1" and "no PMID" in problem.reason
    assert isinstance(record, ParsedRecord) and record.source_id == "5"


def test_record_without_title_is_a_problem_naming_its_pmid() -> None:
    (problem,) = parse_medline_text(["PMID- 6", "AB  - Only an abstract.", ""], location="x.txt")
    assert isinstance(problem, ParseProblem) and problem.source_id == "6" and "no title" in problem.reason


def test_book_title_is_the_title_fallback() -> None:
    (record,) = parse_medline_text(["PMID- 7", "BTI - A Book", "FAU - Doe, Jane Ann"], location="x.txt")
    assert isinstance(record, ParsedRecord) and record.title == "A Book" and record.authors == ("Doe JA",)


def test_records_without_blank_line_between_them_are_split_at_pmid() -> None:
    items = list(parse_medline_text(["PMID- 1", "TI  - One", "PMID- 2", "TI  - Two"], location="x"))
    assert [item.source_id for item in items if isinstance(item, ParsedRecord)] == ["1", "2"]


def test_text_with_no_medline_records_is_a_problem() -> None:
    (problem,) = parse_medline_text(["just some notes", "nothing tagged"], location="notes.txt")
    assert isinstance(problem, ParseProblem) and "no MEDLINE records" in problem.reason


def test_lines_that_break_off_drop_the_partial_record_and_report_the_file() -> None:
    def lines():
        yield from ["PMID- 1", "TI  - Complete", "", "PMID- 2", "TI  - Cut"]
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    record, problem = parse_medline_text(lines(), location="cut.txt.gz")
    assert isinstance(record, ParsedRecord) and record.source_id == "1"
    assert isinstance(problem, ParseProblem) and problem.location == "cut.txt.gz"
    assert "truncated" in problem.reason and "1 record(s) before the break" in problem.reason


def test_unlabelled_abstract_stays_one_section() -> None:
    assert split_abstract("Plain text. HIV: not a label at the start") == (
        AbstractSection(text="Plain text. HIV: not a label at the start"),
    )


def test_mesh_heading_without_descriptor_is_ignored() -> None:
    assert mesh_heading("*") is None
