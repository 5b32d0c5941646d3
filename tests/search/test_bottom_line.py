"""The bottom line: the best recommendation and review conclusion, in the records' own words."""

from __future__ import annotations

import pytest

from search import analysis
from search.bottom_line import Candidate, bottom_line, conclusion_direction, review_conclusion
from tests.factories import EvidenceRecordFactory

pytestmark = pytest.mark.django_db


def stems(text: str) -> frozenset[str]:
    return frozenset(analysis.query_terms(text))


def recommendation(title: str, text: str, *, direction: str = "for", year: int = 2020, **fields: object):  # type: ignore[no-untyped-def]
    return EvidenceRecordFactory(
        kind="recommendation",
        source="uspstf",
        pmid="",
        title=title,
        abstract=text,
        abstract_sections=[],
        recommendation_text=text,
        evidence_level="guideline",
        issuing_body="US Preventive Services Task Force",
        publication_year=year,
        recommendation={"strength": "strong", "certainty": "moderate", "direction": direction},
        **fields,
    )


def review(title: str, *, sections: list | None = None, abstract: str = "", year: int = 2019):  # type: ignore[no-untyped-def]
    sections = sections or []
    return EvidenceRecordFactory(
        title=title,
        abstract_sections=sections,
        abstract=abstract or " ".join(s["text"] for s in sections),
        evidence_level="systematic_review",
        publication_types=["Systematic Review"],
        publication_year=year,
    )


STATIN_SECTIONS = [
    {"label": "BACKGROUND", "category": "BACKGROUND", "text": "Statins lower cholesterol."},
    {"label": "RESULTS", "category": "RESULTS", "text": "Events fell by 25%."},
    {"label": "CONCLUSIONS", "category": "CONCLUSIONS", "text": "Statins reduce cardiovascular events in adults."},
]


def test_panel_quotes_the_recommendation_and_the_review_conclusion_verbatim() -> None:
    rec = recommendation(
        "Statin use for the primary prevention of cardiovascular disease in adults",
        "The USPSTF recommends a statin for adults aged 40 to 75 years at risk of cardiovascular disease.",
    )
    sr = review(
        "Statins for primary prevention of cardiovascular disease: a systematic review", sections=STATIN_SECTIONS
    )
    panel = bottom_line(
        [Candidate(rec, 2, 0.71), Candidate(sr, 1, 0.69)], stems("statins primary prevention cardiovascular disease")
    )
    assert panel is not None and not panel.has_conflict
    assert panel.recommendation is not None and panel.recommendation.text == rec.recommendation_text
    assert (panel.recommendation.strength, panel.recommendation.certainty) == ("strong", "moderate")
    assert panel.recommendation.issuer == "US Preventive Services Task Force"
    assert panel.review is not None and panel.review.text == "Statins reduce cardiovascular events in adults."
    assert panel.review.text in sr.abstract  # extracted, never written
    assert f"PMID {sr.pmid}" in panel.review.citation


def test_unstructured_abstract_gives_its_last_sentences() -> None:
    sr = review(
        "Exercise for low back pain",
        abstract="We searched five databases. Twelve trials were included. "
        "Exercise reduced pain at 12 weeks. Effects on function were small.",
    )
    assert review_conclusion(sr) == "Exercise reduced pain at 12 weeks. Effects on function were small."


def test_weak_matches_leave_the_panel_absent() -> None:
    rec = recommendation("Screening for lung cancer", "Annual screening with low-dose CT in adults who smoke.")
    query = stems("statins primary prevention cardiovascular disease")
    assert bottom_line([Candidate(rec, 1, 0.8)], query) is None  # words do not match
    sr = review("Statins for primary prevention of cardiovascular disease", sections=STATIN_SECTIONS)
    assert bottom_line([Candidate(sr, 1, 0.2)], query) is None  # too far by vector
    assert bottom_line([Candidate(sr, 11, 0.8)], query) is None  # not among the top results


def test_opposite_recommendations_are_shown_as_a_conflict() -> None:
    yes = recommendation(
        "Aspirin for primary prevention of cardiovascular disease",
        "Clinicians may offer low-dose aspirin for primary prevention of cardiovascular disease.",
    )
    no = recommendation(
        "Aspirin use for primary prevention of cardiovascular disease in older adults",
        "The USPSTF recommends against initiating low-dose aspirin for primary prevention of "
        "cardiovascular disease in adults 60 years or older.",
        direction="against",
    )
    panel = bottom_line(
        [Candidate(yes, 1, 0.7), Candidate(no, 2, 0.7)], stems("aspirin primary prevention cardiovascular disease")
    )
    assert panel is not None and panel.has_conflict
    assert panel.recommendation.uid == yes.uid and [c.uid for c in panel.conflicts] == [no.uid]  # type: ignore[union-attr]


def test_a_newer_review_in_the_other_direction_is_a_conflict_an_older_one_is_not() -> None:
    old = review(
        "Vitamin D supplementation and fractures: a systematic review",
        year=2012,
        sections=[
            {"label": "CONCLUSIONS", "category": "CONCLUSIONS", "text": "Vitamin D supplementation reduced fractures."}
        ],
    )
    new = review(
        "Vitamin D supplements for fracture prevention: systematic review",
        year=2022,
        sections=[
            {
                "label": "CONCLUSIONS",
                "category": "CONCLUSIONS",
                "text": "Vitamin D supplementation did not reduce fractures.",
            }
        ],
    )
    query = stems("vitamin D supplementation fractures")
    panel = bottom_line([Candidate(old, 1, 0.7), Candidate(new, 2, 0.7)], query)
    assert panel is not None and [c.uid for c in panel.conflicts] == [new.uid]
    reverse = bottom_line([Candidate(new, 1, 0.7), Candidate(old, 2, 0.7)], query)
    assert reverse is not None and not reverse.has_conflict


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("Statins reduce cardiovascular events.", "for"),
        ("There was no significant difference in mortality.", "against"),
        ("Vitamin D did not reduce fractures.", "against"),
        ("More research is needed.", ""),
    ],
)
def test_direction_of_a_conclusion_is_read_from_its_words(text: str, direction: str) -> None:
    assert conclusion_direction(text) == direction


def test_the_better_match_leads_and_a_recommendation_on_another_topic_is_no_conflict() -> None:
    hiv = recommendation(
        "Screening for HIV",
        "The USPSTF recommends that clinicians screen for HIV infection in adolescents and adults aged 15 to 65 years.",
    )
    other = recommendation(
        "Testicular cancer screening",
        "The USPSTF recommends against screening for testicular cancer in adolescent or adult men.",
        direction="against",
    )
    panel = bottom_line([Candidate(other, 1, 0.6), Candidate(hiv, 2, 0.7)], stems("HIV screening adolescents adults"))
    assert panel is not None and panel.recommendation is not None
    assert panel.recommendation.uid == hiv.uid and not panel.has_conflict


def test_review_covering_more_of_the_question_leads_and_disagreement_is_flagged() -> None:
    rec = recommendation(
        "Knee osteoarthritis",
        "In patients with knee osteoarthritis, clinicians should not prescribe chondroitin or glucosamine.",
        direction="against",
    )
    sr = review(
        "Chondroitin combined with glucosamine for knee osteoarthritis: meta-analysis",
        sections=[
            {
                "label": "CONCLUSIONS",
                "category": "CONCLUSIONS",
                "text": "Chondroitin combined with glucosamine is more effective than either alone.",
            }
        ],
    )
    panel = bottom_line(
        [Candidate(rec, 1, 0.7), Candidate(sr, 2, 0.7)],
        stems("chondroitin combined with glucosamine for knee osteoarthritis"),
    )
    assert panel is not None and panel.lead == "systematic_review" and panel.first is panel.review
    assert panel.disagree and panel.has_conflict
