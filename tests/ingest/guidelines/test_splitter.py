from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.guidelines.splitter import guideline_from_text, normalise_strength, split_guideline_text
from ingest.guidelines.strength import wording_rating
from ingest.guidelines.types import Certainty, Direction, Strength


def test_grade_wording_is_normalised_with_certainty():
    assert normalise_strength("strong recommendation, moderate certainty of evidence") == (
        Strength.STRONG,
        Certainty.MODERATE,
        "",
    )
    assert normalise_strength("Conditional recommendation, low-quality evidence")[:2] == (
        Strength.CONDITIONAL,
        Certainty.LOW,
    )
    assert normalise_strength("(1B)") == (Strength.STRONG, Certainty.MODERATE, "")
    assert normalise_strength("2C")[:2] == (Strength.CONDITIONAL, Certainty.LOW)
    assert normalise_strength("Grade A") == (Strength.STRONG, "", Direction.FOR)
    assert normalise_strength("[B]") == (Strength.STRONG, "", Direction.FOR)
    assert normalise_strength("( D recommendation )") == (Strength.STRONG, "", Direction.AGAINST)
    assert normalise_strength("I statement") == (Strength.INSUFFICIENT, "", "")
    assert normalise_strength("( IIB )") == (Strength.CONDITIONAL, "", Direction.FOR)
    assert normalise_strength("Class IIa, Level B") == (Strength.CONDITIONAL, Certainty.MODERATE, Direction.FOR)
    assert normalise_strength("recommendation category: A, evidence type: 3") == (Strength.STRONG, Certainty.LOW, "")
    assert normalise_strength("Weak Against; Reviewed, New-added") == (Strength.CONDITIONAL, "", Direction.AGAINST)
    assert normalise_strength("Consensus\u2013Panel Expertise").strength == Strength.EXPERT_OPINION
    assert normalise_strength("[EO]").strength == Strength.EXPERT_OPINION
    assert normalise_strength("Starke Empfehlung").strength == Strength.STRONG
    assert normalise_strength("Open Recommendation").strength == Strength.CONDITIONAL
    assert normalise_strength("Category IB")[:2] == (Strength.STRONG, Certainty.LOW)
    assert normalise_strength("something else entirely") == ("", "", "")


def test_wording_gives_strength_and_direction():
    assert wording_rating("We suggest against routine imaging.")[0::2] == (Strength.CONDITIONAL, Direction.AGAINST)
    assert wording_rating("We recommend against benzodiazepines.")[0::2] == (Strength.STRONG, Direction.AGAINST)
    assert wording_rating("Offer cognitive behavioural therapy.")[0::2] == (Strength.STRONG, Direction.FOR)
    assert wording_rating("Consider a short course of NSAIDs.")[0::2] == (Strength.CONDITIONAL, Direction.FOR)
    assert wording_rating("There is insufficient evidence to recommend for or against X.").strength == (
        Strength.INSUFFICIENT
    )


PLAIN = """Guideline for the management of example disease

1. Introduction
This guideline covers adults with example disease. Clinicians should read it.

2. Recommendations
Recommendation 1: We recommend metformin as first-line therapy for adults with type 2 diabetes
(strong recommendation, moderate certainty of evidence).
Recommendation 2: We suggest against routine self-monitoring of blood glucose in adults not on
insulin (conditional recommendation, low-quality evidence).
Recommendation 3: Offer structured education to every adult at diagnosis. (1B)

3. Definitions of the grades
We recommend: strong recommendation. This is a definition, not a recommendation (1A).
"""


def test_plain_text_recommendations_are_numbered_rated_and_kept_whole():
    result = split_guideline_text(PLAIN)
    recs = result.recommendations
    assert [r.number for r in recs] == ["1", "2", "3"]
    assert recs[0].text.startswith("We recommend metformin as first-line therapy")
    assert recs[0].text.endswith("type 2 diabetes")
    assert (recs[0].strength, recs[0].certainty, recs[0].direction) == ("strong", "moderate", "for")
    assert (recs[1].strength, recs[1].certainty, recs[1].direction) == ("conditional", "low", "against")
    assert recs[1].strength_wording == "conditional recommendation, low-quality evidence"
    assert (recs[2].strength, recs[2].certainty, recs[2].grade) == ("strong", "moderate", "1B")
    assert recs[0].section == "2. Recommendations"
    assert "1. Introduction" in result.sections
    assert len({r.anchor for r in recs}) == 3


def test_labelled_document_ignores_unlabelled_discussion():
    text = "\n".join(
        [
            "# Screening",
            "• For adults, the Work Group recommends screening annually. (Strong For; Reviewed, Amended)",
            "• For adults on dialysis, the Work Group recommends offering one of:",
            "  • drug A",
            "  • drug B",
            "(Weak For; Reviewed, New-added)",
            "Clinicians should also read the full text for detail.",
            "# Definitions",
            "A The Task Force recommends the service. (Strong For)",
        ]
    )
    recs = split_guideline_text(text).recommendations
    assert len(recs) == 2
    assert recs[1].text == "For adults on dialysis, the Work Group recommends offering one of:\n• drug A\n• drug B"
    assert (recs[1].strength, recs[1].direction, recs[1].grade) == ("conditional", "for", "Weak For")


def test_unlabelled_text_uses_recommendation_wording():
    text = (
        "Background\nAcupuncture has been studied widely.\n\n"
        "Acupuncture is recommended for chronic pain.\n\nUltrasound is not recommended."
    )
    recs = split_guideline_text(text).recommendations
    assert [r.text for r in recs] == ["Acupuncture is recommended for chronic pain.", "Ultrasound is not recommended."]
    assert [r.direction for r in recs] == ["for", "against"]


def test_text_without_recommendations_keeps_its_text_in_the_summary():
    guideline = guideline_from_text("Just a description of a disease.", source="upload", source_id="x", title="T")
    assert guideline.recommendations == ()
    assert guideline.summary == "Just a description of a disease."


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_splitter_never_crashes_and_stays_fast(text):
    start = time.perf_counter()
    result = split_guideline_text(text)
    assert time.perf_counter() - start < 2.0
    for rec in result.recommendations:
        assert rec.strength in (*Strength.ALL, "")
        assert rec.certainty in (*Certainty.ALL, "")
        assert rec.direction in (*Direction.ALL, "")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["# Head", "• We recommend X.", "(Strong For)", "  • sub", "Offer Y.", "", "[B]", "x" * 500]),
        max_size=200,
    )
)
def test_splitter_handles_structured_noise(lines):
    start = time.perf_counter()
    split_guideline_text("\n".join(lines))
    assert time.perf_counter() - start < 2.0


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_normalise_strength_never_crashes(text):
    rating = normalise_strength(text)
    assert rating.strength in (*Strength.ALL, "")


def test_text_without_line_breaks_is_split_not_truncated():
    filler = "Background sentence about the disease. " * 2000
    text = filler + "We recommend screening all adults for X. " + filler + "We suggest against Y."
    recs = split_guideline_text(text).recommendations
    assert [r.text for r in recs] == ["We recommend screening all adults for X.", "We suggest against Y."]
