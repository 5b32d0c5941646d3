"""The PubMed XML parser on small hand-written fixtures: every field, and the odd shapes."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from ingest.pubmed import iter_pubmed_file, parse_pubmed_xml
from records.types import AbstractSection, DeletedCitation, MeshHeading, ParsedRecord, ParseProblem

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pubmed"


def records_of(path: Path) -> dict[str, ParsedRecord]:
    return {item.source_id: item for item in iter_pubmed_file(path) if isinstance(item, ParsedRecord)}


@pytest.fixture(scope="module")
def efetch() -> dict[str, ParsedRecord]:
    return records_of(FIXTURES / "efetch_fields.xml")


def test_pmid_version_and_status_are_read(efetch: dict[str, ParsedRecord]) -> None:
    record = efetch["90000001"]
    assert record.source == "pubmed" and record.pmid == "90000001"
    assert record.source_version == 2
    assert record.publication_status == "MEDLINE"
    assert efetch["90000002"].publication_status == "In-Process"
    assert efetch["90000003"].publication_status == "Publisher"
    assert efetch["90000004"].publication_status == "PubMed-not-MEDLINE"
    assert record.url == "https://pubmed.ncbi.nlm.nih.gov/90000001/"


def test_inline_markup_in_title_is_flattened_to_text(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000001"].title == "Effect of Salvia on CD4+ counts: a randomised trial."


def test_vernacular_title_is_used_when_article_title_is_empty(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000002"].title == "Un título de ejemplo."


def test_book_title_is_used_for_a_book_without_article_title(efetch: dict[str, ParsedRecord]) -> None:
    book = efetch["90000005"]
    assert book.title == "A Handbook of Fixtures"
    assert book.publication_types == ("Review",)
    assert book.abstract == "A whole book about fixtures."
    assert book.publication_date == date(2010, 5, 1)


def test_structured_abstract_keeps_labels_and_nlm_categories(efetch: dict[str, ParsedRecord]) -> None:
    record = efetch["90000001"]
    assert record.abstract_sections == (
        AbstractSection(text="Salvia may raise CD4 counts.", label="BACKGROUND", category="BACKGROUND"),
        AbstractSection(text="We randomised 120 adults.", label="METHODS", category="METHODS"),
        AbstractSection(text="Counts rose by 10%.", label="FINDINGS", category="RESULTS"),
    )
    assert record.abstract.startswith("BACKGROUND: Salvia may raise CD4 counts.\nMETHODS:")


def test_journal_title_and_iso_abbreviation(efetch: dict[str, ParsedRecord]) -> None:
    record = efetch["90000001"]
    assert record.journal == "The Journal of Hand-Written Fixtures"
    assert record.journal_abbreviation == "J Hand Fixt"
    # No ISOAbbreviation: the MedlineTA stands in.
    assert efetch["90000002"].journal_abbreviation == "Rev Ejem"


def test_pub_date_parts_win_over_article_date(efetch: dict[str, ParsedRecord]) -> None:
    record = efetch["90000001"]
    assert record.publication_date == date(2021, 3, 15)
    assert record.publication_date_raw == "2021 Mar 15"


def test_medline_date_range_gives_its_start_and_keeps_the_raw_string(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000002"].publication_date == date(1998, 12, 1)
    assert efetch["90000002"].publication_date_raw == "1998 Dec-1999 Jan"


def test_season_medline_date_2019_winter_is_read(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000003"].publication_date == date(2019, 1, 1)
    assert efetch["90000003"].publication_date_raw == "2019 Winter"


def test_article_date_is_the_fallback_for_an_empty_pub_date(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000004"].publication_date == date(2020, 7, 4)


def test_authors_as_last_name_initials_with_collective_names_and_invalid_left_out(
    efetch: dict[str, ParsedRecord],
) -> None:
    assert efetch["90000001"].authors == ("Smith JA", "García-López M", "Salvia Trial Group")


def test_doi_comes_from_the_article_id_list_not_the_reference_list(efetch: dict[str, ParsedRecord]) -> None:
    record = efetch["90000001"]
    assert record.doi == "10.1000/fixture.001"
    assert record.pmcid == "PMC9000001"


def test_doi_falls_back_to_elocation_id(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000002"].doi == "10.1000/fixture.002"
    assert efetch["90000002"].pmcid == ""


def test_languages_and_publication_types(efetch: dict[str, ParsedRecord]) -> None:
    record = efetch["90000001"]
    assert record.languages == ("eng", "fre")
    assert record.publication_types == ("Journal Article", "Randomized Controlled Trial")


def test_upper_case_publication_type_is_normalised(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000004"].publication_types == ("Journal Article",)


def test_mesh_headings_keep_major_topic_flags_on_descriptor_and_qualifiers(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000001"].mesh_headings == (
        MeshHeading(descriptor="Humans", major=False, qualifiers=()),
        MeshHeading(descriptor="HIV Infections", major=True, qualifiers=(("drug therapy", False), ("blood", True))),
    )


def test_keywords_are_read_with_markup_flattened(efetch: dict[str, ParsedRecord]) -> None:
    assert efetch["90000001"].keywords == ("sage", "CD4 lymphocytes")


def test_comments_corrections_set_erratum_flag_and_keep_pairs(efetch: dict[str, ParsedRecord]) -> None:
    record = efetch["90000001"]
    assert record.has_erratum is True
    assert record.retracted is False and record.retraction_notice is False
    assert record.comments_corrections == (("ErratumIn", "90000101"), ("CommentIn", "90000102"))


def test_retraction_in_and_retracted_publication_type_mark_a_record_retracted(
    efetch: dict[str, ParsedRecord],
) -> None:
    record = efetch["90000002"]
    assert record.retracted is True
    assert record.retraction_notice is False
    assert ("RetractionIn", "90000201") in record.comments_corrections


def test_retraction_notice_is_flagged_and_not_retracted(efetch: dict[str, ParsedRecord]) -> None:
    record = efetch["90000003"]
    assert record.retraction_notice is True
    assert record.retracted is False
    # A CommentsCorrections without a PMID is not kept as a pair.
    assert record.comments_corrections == (("RetractionOf", "90000301"),)


def test_medline_citation_set_baseline_with_delete_citation() -> None:
    items = list(iter_pubmed_file(FIXTURES / "baseline_citationset.xml"))
    records = [item for item in items if isinstance(item, ParsedRecord)]
    assert [record.source_id for record in records] == ["90000011", "90000012"]
    assert records[0].pmcid == "PMC4000011"
    assert records[0].publication_date == date(2000, 3, 1)
    assert records[0].publication_date_raw == "2000 Spring"
    assert records[0].journal_abbreviation == "Baseline J"
    assert [item for item in items if isinstance(item, DeletedCitation)] == [
        DeletedCitation(source="pubmed", source_id="90000001"),
        DeletedCitation(source="pubmed", source_id="90000099"),
    ]
    assert not [item for item in items if isinstance(item, ParseProblem)]


def test_concatenated_documents_and_bare_articles_are_all_read() -> None:
    assert list(records_of(FIXTURES / "concatenated.xml")) == ["90000021", "90000022", "90000023"]


def test_efetch_body_from_a_byte_stream() -> None:
    body = (FIXTURES / "efetch_fields.xml").read_bytes()
    items = list(parse_pubmed_xml(io.BytesIO(body), location="efetch batch 1"))
    assert len([item for item in items if isinstance(item, ParsedRecord)]) == 5


def test_latin1_declared_encoding_is_decoded() -> None:
    body = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><PubmedArticleSet><PubmedArticle><MedlineCitation>'
        "<PMID>1</PMID><Article><ArticleTitle>Caf\xe9 study</ArticleTitle></Article></MedlineCitation>"
        "</PubmedArticle></PubmedArticleSet>"
    ).encode("latin-1")
    (record,) = parse_pubmed_xml(io.BytesIO(body), location="latin1")
    assert isinstance(record, ParsedRecord) and record.title == "Café study"


def test_record_without_pmid_is_a_problem_and_the_next_record_is_still_read() -> None:
    body = (
        b"<PubmedArticleSet>"
        b"<PubmedArticle><MedlineCitation><Article><ArticleTitle>No PMID</ArticleTitle></Article>"
        b"</MedlineCitation></PubmedArticle>"
        b"<PubmedArticle><MedlineCitation><PMID>7</PMID><Article><ArticleTitle>Fine</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
        b"</PubmedArticleSet>"
    )
    problem, record = parse_pubmed_xml(io.BytesIO(body), location="f.xml")
    assert isinstance(problem, ParseProblem)
    assert problem.location == "f.xml: record 1" and "no PMID" in problem.reason
    assert isinstance(record, ParsedRecord) and record.source_id == "7"


def test_record_without_any_title_is_a_problem_naming_its_pmid() -> None:
    body = (
        b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>8</PMID><Article><ArticleTitle/>"
        b"</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    )
    (problem,) = parse_pubmed_xml(io.BytesIO(body), location="f.xml")
    assert isinstance(problem, ParseProblem)
    assert problem.source_id == "8" and "no title" in problem.reason


def test_malformed_xml_yields_the_good_records_then_one_problem_with_the_line() -> None:
    good = (FIXTURES / "efetch_fields.xml").read_bytes().split(b"</PubmedArticle>")[0] + b"</PubmedArticle>"
    body = good + b"\n<PubmedArticle><MedlineCitation><PMID>9</PMID><Article>\n<ArticleTitle>Broken</Article>"
    items = list(parse_pubmed_xml(io.BytesIO(body), location="broken.xml"))
    assert isinstance(items[0], ParsedRecord) and items[0].source_id == "90000001"
    assert len(items) == 2
    problem = items[1]
    assert isinstance(problem, ParseProblem) and problem.location == "broken.xml"
    assert problem.reason.startswith("malformed XML at line ")
    assert "1 record(s) before it were read" in problem.reason


def test_xml_that_is_not_pubmed_is_a_problem() -> None:
    (problem,) = parse_pubmed_xml(
        io.BytesIO(b"<eFetchResult><ERROR>Empty id list</ERROR></eFetchResult>"), location="x"
    )
    assert isinstance(problem, ParseProblem) and "no PubMed records" in problem.reason


def test_empty_article_set_is_no_problem() -> None:
    assert (
        list(parse_pubmed_xml(io.BytesIO(b"<?xml version='1.0'?><PubmedArticleSet></PubmedArticleSet>"), location="x"))
        == []
    )


def test_entities_declared_in_a_doctype_are_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "file://{secret}">'
        '<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
        "<ArticleTitle>&xxe; &lol2;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    ).encode()
    items = list(parse_pubmed_xml(io.BytesIO(body), location="evil.xml"))
    assert not any(isinstance(item, ParsedRecord) and "SECRET" in item.title for item in items)
    assert not any(isinstance(item, ParsedRecord) and "lollol" in item.title for item in items)
    assert isinstance(items[-1], ParseProblem) and "malformed XML" in items[-1].reason


@pytest.mark.parametrize("chunk", [7, 64, 64 * 1024])
def test_reference_lists_are_cut_whatever_the_read_size_and_lines_stay_true(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    from ingest.pubmed import xml

    monkeypatch.setattr(xml, "_CHUNK", chunk)  # tags cut at every possible place
    references = (
        b"<ReferenceList>\n<Title>Cited</Title><Reference><Citation>ReferenceList of <i>works</i></Citation>"
        b"</Reference>\n<ReferenceList Type='nested'>\n<Reference><Citation>x</Citation></Reference>\n"
        b"</ReferenceList><ReferenceList/>\n</ReferenceList >"
    )
    fields = (FIXTURES / "efetch_fields.xml").read_bytes()
    with_more = fields.replace(b"<ReferenceList>", references + b"\n<ReferenceList>", 1)
    assert [*parse_pubmed_xml(io.BytesIO(with_more), location="f")] == [
        *parse_pubmed_xml(io.BytesIO(fields), location="f")
    ]
    joined = xml._JoinedDocuments(io.BytesIO(with_more)).read()
    assert b"Reference" not in joined and joined.count(b"\n") == with_more.count(b"\n")
    broken = with_more.replace(b"</PubmedArticleSet>", b"<PubmedArticle>\n\n<Broken></PubmedArticleSet>")
    problem = [*parse_pubmed_xml(io.BytesIO(broken), location="f")][-1]
    assert isinstance(problem, ParseProblem)
    line = with_more.count(b"\n", 0, with_more.index(b"</PubmedArticleSet>")) + 3
    assert f"malformed XML at line {line}," in problem.reason
