from __future__ import annotations

import contextlib
import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.guidelines.feeds import parse_feed
from ingest.guidelines.fhir import parse_fhir_resources
from ingest.guidelines.oai import OaiError, parse_oai_response
from ingest.guidelines.types import GuidelineParseError


def _load(path):
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)


@pytest.mark.shared_data
def test_cpg_plan_definitions_form_one_cdc_guideline(shared_data):
    paths = sorted((shared_data / "guidelines" / "fhir").glob("cqframework__*"))
    (g,) = parse_fhir_resources([_load(p) for p in paths])
    assert g.title == "2022 CDC Clinical Practice Guideline for Prescribing Opioids for Pain"
    assert g.year == 2022
    assert [r.number for r in g.recommendations] == ["1", "2", "3", "4-5", "6", "7", "8", "9", "10", "11", "12"]
    strengths = [r.strength for r in g.recommendations]
    assert strengths.count("strong") == 7 and strengths.count("conditional") == 4
    assert (g.recommendations[0].certainty, g.recommendations[-1].certainty) == ("low", "high")


@pytest.mark.shared_data
def test_awmf_composition_keeps_german_text_and_ratings(shared_data):
    folder = shared_data / "guidelines" / "fhir"
    resources = [_load(p) for p in sorted(folder.glob("Dissolve-E__*"))]
    guidelines = {g.source_id: g for g in parse_fhir_resources(resources)}
    pneumonia = guidelines["Composition/NosokomialePneumonie"]
    assert pneumonia.language == "de" and pneumonia.issuer == "AWMF" and pneumonia.version == "3.0"
    pcr = pneumonia.recommendations[-1]
    assert pcr.text.startswith("Der regelhafte Einsatz von bakteriellen Multiplex-PCR-Systemen")
    assert (pcr.strength, pcr.direction, pcr.certainty) == ("conditional", "against", "very_low")
    biopsy = guidelines["Composition/DiffuseLargeBCellLymphomaGuideline"].recommendations[0]
    assert (biopsy.strength, biopsy.direction, biopsy.certainty) == ("strong", "against", "moderate")


@pytest.mark.shared_data
def test_ebm_ada_recommendations_numbered_with_evidence_level(shared_data):
    folder = shared_data / "guidelines" / "fhir"
    guidelines = parse_fhir_resources([_load(p) for p in sorted(folder.glob("HL7__ebm__*"))])
    ada = next(g for g in guidelines if g.source_id.endswith("/179465"))
    assert [r.number for r in ada.recommendations] == ["8.16", "8.17"]
    assert ada.recommendations[0].text.startswith("Metabolic surgery should be a recommended option")
    assert [(r.direction, r.certainty) for r in ada.recommendations] == [("for", "high"), ("for", "high")]
    assert ada.recommendations[1].strength == "conditional"  # "may be considered"


def test_fhir_odd_input_never_raises():
    assert parse_fhir_resources([{"resourceType": "Composition"}, {"x": 1}, "text"]) == []  # type: ignore[list-item]
    assert parse_fhir_resources([{"resourceType": "PlanDefinition", "action": [{"extension": [{}]}]}]) == []


OAI_RECORD = b"""<?xml version="1.0"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><request verb="ListRecords">http://x/oai</request>
<ListRecords>
<record><header><identifier>oai:x:1</identifier><datestamp>2020-01-02</datestamp><setSpec>g</setSpec></header>
<metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:title>WHO guideline on X</dc:title><dc:publisher>World Health Organization</dc:publisher>
<dc:date>2019</dc:date><dc:identifier>https://iris.who.int/handle/1</dc:identifier>
<dc:identifier>doi:10.1234/abc.5</dc:identifier><dc:description>We recommend X.</dc:description>
<dc:language>en</dc:language></oai_dc:dc></metadata></record>
<record><header status="deleted"><identifier>oai:x:2</identifier><datestamp>2020-01-03</datestamp></header></record>
<resumptionToken completeListSize="3" cursor="0">tok-1</resumptionToken>
</ListRecords></OAI-PMH>"""


def test_oai_dublin_core_records_deletions_and_token():
    page = parse_oai_response(OAI_RECORD)
    (g,) = page.guidelines
    assert (g.source_id, g.title, g.issuer, g.year, g.url, g.doi) == (
        "oai:x:1",
        "WHO guideline on X",
        "World Health Organization",
        2019,
        "https://iris.who.int/handle/1",
        "10.1234/abc.5",
    )
    assert g.summary == "We recommend X." and g.recommendations == ()
    assert [d.source_id for d in page.deleted] == ["oai:x:2"]
    assert (page.resumption_token, page.complete_list_size, page.cursor) == ("tok-1", 3, 0)


def _oai_error(code):
    return (
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><request>http://x</request>'
        f'<error code="{code}">message for {code}</error></OAI-PMH>'
    ).encode()


def test_oai_errors_are_typed_and_no_records_match_is_empty():
    with pytest.raises(OaiError) as bad:
        parse_oai_response(_oai_error("badResumptionToken"))
    assert bad.value.code == "badResumptionToken" and not bad.value.empty
    with pytest.raises(OaiError) as empty:
        parse_oai_response(_oai_error("noRecordsMatch"))
    assert empty.value.empty


def test_malformed_oai_xml_is_a_parse_error():
    with pytest.raises(GuidelineParseError, match="malformed OAI-PMH XML"):
        parse_oai_response(b"<OAI-PMH><ListRecords><record>")
    with pytest.raises(GuidelineParseError, match="not an OAI-PMH response"):
        parse_oai_response(b"<html/>")


@pytest.mark.shared_data
def test_recorded_oai_pages(shared_data):
    folder = shared_data / "guidelines" / "oai"
    first = parse_oai_response(
        (folder / "caseyamcl__phpoaipmh__tests--SampleXML--GoodResponseFourPage_1.xml").read_bytes()
    )
    assert len(first.identifiers) == 200 and first.complete_list_size == 733 and first.resumption_token
    last = parse_oai_response(
        (folder / "caseyamcl__phpoaipmh__tests--SampleXML--GoodResponseFourPage_4.xml").read_bytes()
    )
    assert last.resumption_token == "" and len(last.identifiers) == 133
    records = parse_oai_response((folder / "infrae__pyoai__src--oaipmh--tests--fake1--00005.xml").read_bytes())
    assert len(records.guidelines) == 16
    deleted = parse_oai_response((folder / "infrae__pyoai__src--oaipmh--tests--fake2--00002.xml").read_bytes())
    assert len(deleted.deleted) == 2


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_oai_parser_never_crashes_unexpectedly(data):
    with contextlib.suppress(GuidelineParseError, OaiError):
        parse_oai_response(data)


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Guidelines</title>
<item><title>New guideline on asthma</title><link>https://example.org/g/1</link><guid>g1</guid>
<pubDate>Tue, 03 Jun 2025 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Summary&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description></item>
</channel></rss>"""


def test_rss_feed_items():
    (item,) = parse_feed(RSS, feed_url="https://example.org/feed")
    assert (item.guid, item.title, item.link, str(item.published)) == (
        "g1",
        "New guideline on asthma",
        "https://example.org/g/1",
        "2025-06-03",
    )
    assert item.summary == "Summary" and "alert" not in item.summary


def test_atom_feed_items():
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><id>urn:1</id><title>Atom guideline</title><link href="https://example.org/a"/>
    <updated>2024-02-01T00:00:00Z</updated></entry></feed>"""
    (item,) = parse_feed(atom, feed_url="u")
    assert (item.title, item.link, item.published.year) == ("Atom guideline", "https://example.org/a", 2024)


def test_html_page_served_as_feed_is_a_clear_error():
    with pytest.raises(GuidelineParseError, match="HTML page, not an RSS or Atom feed"):
        parse_feed(b"<!DOCTYPE html><html><body>Not a feed</body></html>", feed_url="u")
    with pytest.raises(GuidelineParseError, match="not an RSS or Atom feed"):
        parse_feed(b"just text", feed_url="u")
