from __future__ import annotations

import gzip

import pytest

from ingest.guidelines.ngc import parse_ngc, release_year
from ingest.guidelines.text import fix_mojibake
from ingest.guidelines.types import GuidelineParseError
from ingest.guidelines.uspstf import parse_uspstf

pytestmark = pytest.mark.shared_data


def _ngc(shared_data, number):
    data = gzip.decompress((shared_data / "guidelines" / "ngc" / f"ngc-{number}.xml.gz").read_bytes())
    return parse_ngc(data, source_id=f"ngc-{number}")


def test_vadod_summary_splits_into_rated_recommendations(shared_data):
    g = _ngc(shared_data, 11288)
    assert g.title == "VA/DoD clinical practice guideline for diagnosis and treatment of low back pain"
    assert g.issuer.startswith("Department of Defense; Department of Veterans Affairs")
    assert g.year == 2017
    assert g.url.startswith("https://www.healthquality.va.gov/")
    assert len(g.recommendations) == 38
    first = g.recommendations[0]
    assert first.text.startswith("For patients with low back pain, the Work Group recommends that clinicians")
    assert (first.strength, first.direction, first.grade) == ("strong", "for", "Strong For")
    assert first.strength_wording == "Strong For; Reviewed, Amended"
    assert first.section == "A. Diagnostic Approach"
    against = [r for r in g.recommendations if r.direction == "against"]
    assert against and all("against" in r.grade.lower() for r in against)
    assert "Strong" in g.rating_scheme


def test_uspstf_summary_keeps_only_the_graded_statement(shared_data):
    g = _ngc(shared_data, 10889)
    assert g.year == 2016
    assert len(g.recommendations) == 1
    rec = g.recommendations[0]
    assert rec.text.startswith("The USPSTF recommends screening for depression in the general adult population")
    assert (rec.grade, rec.strength, rec.direction) == ("B", "strong", "for")


def test_nhlbi_summary_reads_grade_strength_and_certainty(shared_data):
    g = _ngc(shared_data, 10530)
    first = g.recommendations[0]
    assert first.text.startswith("Administer oral penicillin prophylaxis")
    assert (first.strength, first.certainty) == ("strong", "moderate")
    assert any(r.strength == "expert_opinion" for r in g.recommendations)


def test_release_year_prefers_the_revision():
    assert release_year("1996 (revised 2013 Mar 19)") == 2013
    assert release_year("2015 Dec") == 2015
    assert release_year("") is None


def test_mojibake_is_repaired():
    assert fix_mojibake("Clearinghouse\u00e2\u0084\u00a2 and caf\u00c3\u00a9") == "Clearinghouse\u2122 and caf\u00e9"
    assert fix_mojibake("plain text") == "plain text"


def test_every_shared_ngc_summary_parses(shared_data):
    files = sorted((shared_data / "guidelines" / "ngc").glob("ngc-*.xml.gz"))
    assert len(files) >= 100
    with_recs = 0
    for path in files:
        g = parse_ngc(gzip.decompress(path.read_bytes()), source_id=path.name)
        assert g.title and g.year
        assert "\u00e2\u0084" not in g.title + "".join(r.text for r in g.recommendations)
        with_recs += bool(g.recommendations)
    assert with_recs >= 0.9 * len(files)


def test_ngc_bad_input_is_a_clear_error():
    with pytest.raises(GuidelineParseError, match="not well-formed XML"):
        parse_ngc(b"<Version><Section>", source_id="x")
    with pytest.raises(GuidelineParseError, match="no Guideline Title"):
        parse_ngc(b"<Version/>", source_id="x")


def test_ngc_small_fixture():
    value = (
        "&lt;ul&gt;&lt;li&gt;We recommend X for adults. (&lt;strong&gt;Strong for&lt;/strong&gt;)&lt;/li&gt;"
        "&lt;li&gt;We suggest against Y. (&lt;strong&gt;Weak against&lt;/strong&gt;)&lt;/li&gt;&lt;/ul&gt;"
    )
    xml = (
        '<Version><Section Name="General"><Field FieldID="161" Name="Guideline Title">'
        '<FieldValue Value="Test guideline."/></Field></Section><Section Name="Recommendations">'
        f'<Field FieldID="151" Name="Major Recommendations"><FieldValue Value="{value}"/></Field>'
        '<Field FieldID="128" Name="Date Released"><FieldValue Value="2001 (revised 2010 Jan)"/></Field>'
        "</Section></Version>"
    ).encode()
    g = parse_ngc(xml, source_id="t")
    assert g.year == 2010
    assert [(r.strength, r.direction) for r in g.recommendations] == [("strong", "for"), ("conditional", "against")]


def test_uspstf_api_groups_by_topic_and_maps_grades(shared_data):
    guidelines = parse_uspstf((shared_data / "guidelines" / "uspstf_specific_recommendations.json").read_bytes())
    assert sum(len(g.recommendations) for g in guidelines) == 137
    cervical = next(g for g in guidelines if g.title == "Cervical Cancer: Screening")
    grades = [(r.grade, r.strength, r.direction) for r in cervical.recommendations]
    assert ("A", "strong", "for") in grades and ("D", "strong", "against") in grades
    assert cervical.recommendations[0].population.startswith("Women aged 21 to 30 years (female, aged 21 to 30")
    everything = [r for g in guidelines for r in g.recommendations]
    insufficient = [r for r in everything if r.grade == "I"]
    assert len(insufficient) == 54 and all(r.strength == "insufficient" and r.direction == "" for r in insufficient)
    assert all(r.certainty == "" for r in everything)


def test_uspstf_bad_input():
    with pytest.raises(GuidelineParseError, match="not JSON"):
        parse_uspstf(b"<html>")
    with pytest.raises(GuidelineParseError, match="no specificRecommendations"):
        parse_uspstf(b'{"x": 1}')
    small = b'{"specificRecommendations": [{"id": 1, "title": "T -- Adults", "grade": "C", "text": "<p>Do it.</p>"}]}'
    (g,) = parse_uspstf(small)
    assert (g.recommendations[0].text, g.recommendations[0].strength) == ("Do it.", "conditional")
