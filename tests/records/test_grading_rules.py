"""The precedence rules: every rule with a fixture, conflicts, and one level for any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records.evidence.levels import EvidenceLevel, level_strength
from records.evidence.rules import RULES, awaits_indexing, grade_by_rules

L = EvidenceLevel

# (publication types, MeSH descriptors, expected level, a reason the grade must name)
RULE_FIXTURES = [
    (["Practice Guideline"], [], L.GUIDELINE, "PubMed publication type Practice Guideline"),
    (["Guideline", "Journal Article"], [], L.GUIDELINE, "PubMed publication type Guideline"),
    (["Journal Article", "Meta-Analysis"], ["Humans"], L.SYSTEMATIC_REVIEW, "PubMed publication type Meta-Analysis"),
    (["Systematic Review"], [], L.SYSTEMATIC_REVIEW, "PubMed publication type Systematic Review"),
    (["Randomized Controlled Trial"], ["Humans"], L.RCT, "PubMed publication type Randomized Controlled Trial"),
    (["Pragmatic Clinical Trial"], [], L.RCT, "PubMed publication type Pragmatic Clinical Trial"),
    (["Clinical Trial, Phase III"], ["Humans"], L.NON_RANDOMISED_TRIAL, "Clinical Trial, Phase III"),
    (["Controlled Clinical Trial"], [], L.NON_RANDOMISED_TRIAL, "PubMed publication type Controlled Clinical Trial"),
    (["Clinical Trial"], [], L.NON_RANDOMISED_TRIAL, "PubMed publication type Clinical Trial"),
    (["Randomized Controlled Trial, Veterinary"], ["Animals", "Dogs"], L.PRECLINICAL, "Veterinary"),
    (["Journal Article"], ["Animals", "Mice"], L.PRECLINICAL, "MeSH heading Animals without Humans"),
    (["In Vitro"], [], L.PRECLINICAL, "PubMed publication type In Vitro"),
    (["Journal Article"], ["Humans", "Cohort Studies"], L.COHORT, "MeSH heading Cohort Studies"),
    (["Journal Article"], ["Humans", "Prospective Studies"], L.COHORT, "MeSH heading Prospective Studies"),
    (["Journal Article"], ["Humans", "Retrospective Studies"], L.COHORT, "MeSH heading Retrospective Studies"),
    (["Journal Article"], ["Case-Control Studies", "Humans"], L.CASE_CONTROL, "MeSH heading Case-Control Studies"),
    (["Journal Article"], ["Cross-Sectional Studies"], L.CROSS_SECTIONAL, "MeSH heading Cross-Sectional Studies"),
    (["Observational Study"], ["Humans"], L.CROSS_SECTIONAL, "PubMed publication type Observational Study"),
    (["Case Reports"], ["Humans"], L.CASE_SERIES, "PubMed publication type Case Reports"),
    (["Journal Article", "Review"], ["Humans"], L.NARRATIVE_REVIEW, "PubMed publication type Review"),
    (["Editorial"], [], L.EXPERT_OPINION, "PubMed publication type Editorial"),
    (["Comment"], [], L.EXPERT_OPINION, "PubMed publication type Comment"),
    (["Letter"], [], L.EXPERT_OPINION, "PubMed publication type Letter"),
    (["Retraction of Publication"], [], L.UNKNOWN, "PubMed publication type Retraction of Publication"),
    (["Published Erratum"], [], L.UNKNOWN, "PubMed publication type Published Erratum"),
]


@pytest.mark.parametrize(("types", "mesh", "level", "reason"), RULE_FIXTURES)
def test_each_rule_grades_its_fixture_and_names_what_decided_it(types, mesh, level, reason):
    grade = grade_by_rules(publication_types=types, mesh_descriptors=mesh)
    assert grade.level == level
    assert any(reason in r for r in grade.reasons), grade.reasons
    assert grade.explanation.split(":")[0]  # "systematic review: ..." names the rung first
    assert not grade.predicted
    assert grade.source == "indexed"


def test_every_rule_of_the_precedence_order_has_a_fixture():
    covered = {
        grade_by_rules(publication_types=types, mesh_descriptors=mesh).level for types, mesh, _, _ in RULE_FIXTURES
    }
    assert {rule.level for rule in RULES} <= covered


def test_meta_analysis_explanation_reads_as_the_portal_shows_it():
    grade = grade_by_rules(publication_types=["Journal Article", "Meta-Analysis"], mesh_descriptors=[])
    assert grade.explanation == "systematic review: PubMed publication type Meta-Analysis"


def test_rct_that_is_also_a_review_is_graded_rct():
    grade = grade_by_rules(publication_types=["Review", "Randomized Controlled Trial"], mesh_descriptors=["Humans"])
    assert grade.level == L.RCT
    assert grade.reasons == ("PubMed publication type Randomized Controlled Trial",)


def test_systematic_review_of_trials_outranks_the_trial_types():
    types = ["Systematic Review", "Randomized Controlled Trial", "Review"]
    assert grade_by_rules(publication_types=types, mesh_descriptors=[]).level == L.SYSTEMATIC_REVIEW


def test_guideline_outranks_a_meta_analysis():
    types = ["Meta-Analysis", "Practice Guideline"]
    assert grade_by_rules(publication_types=types, mesh_descriptors=[]).level == L.GUIDELINE


def test_retracted_meta_analysis_keeps_its_level_and_carries_the_flag():
    grade = grade_by_rules(publication_types=["Meta-Analysis", "Retracted Publication"], mesh_descriptors=[])
    assert grade.level == L.SYSTEMATIC_REVIEW
    assert grade.retracted
    assert "PubMed publication type Retracted Publication" in grade.reasons
    assert "retracted" in grade.explanation
    assert level_strength(grade.level, retracted=grade.retracted) == 0.0


def test_retracted_argument_flags_without_the_publication_type():
    grade = grade_by_rules(publication_types=["Randomized Controlled Trial"], mesh_descriptors=[], retracted=True)
    assert grade.level == L.RCT
    assert grade.retracted


def test_case_control_is_more_specific_than_retrospective():
    mesh = ["Humans", "Retrospective Studies", "Case-Control Studies"]
    assert grade_by_rules(publication_types=["Journal Article"], mesh_descriptors=mesh).level == L.CASE_CONTROL


def test_human_and_animal_study_is_not_preclinical():
    grade = grade_by_rules(publication_types=["Journal Article"], mesh_descriptors=["Animals", "Humans"])
    assert grade.level == L.UNKNOWN


def test_matching_ignores_case_and_whitespace():
    grade = grade_by_rules(publication_types=["  RANDOMIZED CONTROLLED TRIAL "], mesh_descriptors=[])
    assert grade.level == L.RCT


def test_unindexed_journal_article_is_unknown_and_asks_for_prediction():
    grade = grade_by_rules(publication_types=["Journal Article"], mesh_descriptors=[])
    assert grade.level == L.UNKNOWN
    assert grade.needs_prediction
    assert "not yet indexed" in grade.explanation


@pytest.mark.parametrize("status", ["In-Process", "Publisher", "In-Data-Review"])
def test_records_in_unindexed_statuses_await_indexing(status):
    assert awaits_indexing(
        publication_types=["Journal Article"], mesh_descriptors=["Humans"], publication_status=status
    )


def test_indexed_record_with_no_design_heading_does_not_ask_for_prediction():
    grade = grade_by_rules(
        publication_types=["Journal Article"], mesh_descriptors=["Humans"], publication_status="MEDLINE"
    )
    assert grade.level == L.UNKNOWN
    assert not grade.needs_prediction


def test_publisher_supplied_rct_type_is_graded_without_waiting_for_indexing():
    grade = grade_by_rules(
        publication_types=["Journal Article", "Randomized Controlled Trial"],
        mesh_descriptors=[],
        publication_status="Publisher",
    )
    assert grade.level == L.RCT
    assert not grade.needs_prediction


KNOWN_TYPES = sorted(
    {t for types, _, _, _ in RULE_FIXTURES for t in types}
    | {"Journal Article", "Retracted Publication", "Multicenter Study", "English Abstract", "Twin Study"}
)
KNOWN_MESH = ["Humans", "Animals", "Cohort Studies", "Case-Control Studies", "Cross-Sectional Studies"]


@settings(max_examples=300, deadline=None)
@given(
    types=st.lists(st.one_of(st.sampled_from(KNOWN_TYPES), st.text(max_size=30)), max_size=8),
    mesh=st.lists(st.one_of(st.sampled_from(KNOWN_MESH), st.text(max_size=20)), max_size=6),
    retracted=st.booleans(),
)
def test_every_combination_of_publication_types_yields_exactly_one_level(types, mesh, retracted):
    grade = grade_by_rules(publication_types=types, mesh_descriptors=mesh, retracted=retracted)
    assert isinstance(grade.level, EvidenceLevel)
    assert grade.explanation
    # Order does not matter: the precedence decides, not the order PubMed lists the types in.
    reversed_grade = grade_by_rules(publication_types=types[::-1], mesh_descriptors=mesh[::-1], retracted=retracted)
    assert reversed_grade.level == grade.level
    assert grade.retracted == (retracted or any(t.strip().lower() == "retracted publication" for t in types))
    if grade.level != L.UNKNOWN:
        assert grade.reasons
