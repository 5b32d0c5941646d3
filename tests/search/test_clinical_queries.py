"""Each PubMed Clinical Queries filter against records that must and must not match it."""

from __future__ import annotations

import pytest

from search import clinical_queries as cq
from search.clinical_queries import RecordFields
from search.indexing import document_for
from tests.factories import EvidenceRecordFactory


def rec(
    title: str = "",
    abstract: str = "",
    *,
    mesh: tuple[str, ...] = (),
    qualifiers: tuple[tuple[str, str], ...] = (),
    types: tuple[str, ...] = ("Journal Article",),
    keywords: tuple[str, ...] = (),
    journal: str = "",
) -> RecordFields:
    headings = [{"descriptor": m, "major": False, "qualifiers": []} for m in mesh]
    headings += [{"descriptor": d, "major": False, "qualifiers": [[q, False]]} for d, q in qualifiers]
    return RecordFields.build(
        title=title,
        abstract=abstract,
        mesh_headings=headings,
        publication_types=types,
        keywords=keywords,
        journal=journal,
    )


def matches(key: str, record: RecordFields) -> bool:
    return cq.FILTERS[key].matches(record)


NEUTRAL = rec("Cell membranes of yeast", "We describe the lipid composition of membranes.", mesh=("Yeasts",))

# (filter key, records that must match, records that must not)
CASES: list[tuple[str, list[RecordFields], list[RecordFields]]] = [
    (
        "therapy_broad",
        [
            rec("A clinical trial of insulin", "Adults with diabetes."),
            rec("Insulin", "Patients were randomised to two doses."),
            rec("Insulin", "", mesh=("Randomized Controlled Trials as Topic",)),  # exploded
            rec("Insulin", "", types=("Clinical Trial",)),
            rec("Insulin", "", mesh=("Random Allocation",)),
            rec("Insulin", "", qualifiers=(("Insulin", "therapeutic use"),)),
        ],
        [NEUTRAL, rec("Clinical features of gout", "A case series."), rec("Insulin", "Trial-and-error dosing.")],
    ),
    (
        "therapy_narrow",
        [
            rec("Insulin", "", types=("Randomized Controlled Trial",)),
            rec("Insulin", "A randomized, placebo controlled trial in adults."),
        ],
        [
            NEUTRAL,
            rec("Insulin", "Patients were randomised to two doses."),  # broad only
            rec("Insulin", "A randomised controlled trial."),  # British spelling is not in the string
            rec("Insulin", "", types=("Clinical Trial",)),
        ],
    ),
    (
        "diagnosis_broad",
        [
            rec("Ultrasound sensitivity for appendicitis"),
            rec("Ultrasound", "", mesh=("ROC Curve",)),  # under Sensitivity and Specificity
            rec("Appendicitis", "Children diagnosed in the emergency room."),
            rec("Appendicitis", "", mesh=("Diagnostic Imaging",)),  # diagnostic *[MeSH:noexp]
            rec("Appendicitis", "", mesh=("Diagnosis, Differential",)),
            rec("Appendicitis", "", qualifiers=(("Appendicitis", "diagnosis"),)),
        ],
        [NEUTRAL, rec("Appendicitis", "Surgery or antibiotics.", qualifiers=(("Appendicitis", "therapy"),))],
    ),
    (
        "diagnosis_narrow",
        [rec("D-dimer", "Its specificity was 40%.")],
        [
            NEUTRAL,
            rec("D-dimer", "Its sensitivity was 95%."),
            rec("D-dimer", "", mesh=("Sensitivity and Specificity",)),
        ],
    ),
    (
        "prognosis_broad",
        [
            rec("Sepsis", "", mesh=("Incidence",)),
            rec("Sepsis", "", mesh=("Hospital Mortality",)),  # exploded
            rec("Sepsis", "", mesh=("Follow-Up Studies",)),
            rec("Prognostic factors in sepsis"),
            rec("Sepsis", "", keywords=("outcome prediction",)),  # [tw] reads keywords
            rec("Sepsis", "The clinical course of patients."),
        ],
        [NEUTRAL, rec("Sepsis", "", mesh=("Prospective Studies",))],
    ),
    (
        "prognosis_narrow",
        [rec("Prognosis of sepsis"), rec("Sepsis", "After a first psychotic episode."), rec("Sepsis", "A cohort.")],
        [
            NEUTRAL,
            rec("Sepsis", "Mortality predicted.", mesh=("Incidence",)),
            rec("Sepsis", "", keywords=("prognosis",)),
        ],
    ),
    (
        "etiology_broad",
        [
            rec("Smoking risk", ""),
            rec("Smoking", "", mesh=("Risk Factors",)),
            rec("Smoking", "", mesh=("Retrospective Studies",)),  # under Cohort Studies
            rec("Smoking", "Two groups were compared."),
        ],
        [NEUTRAL, rec("Smoking", "A case report.")],
    ),
    (
        "etiology_narrow",
        [
            rec("Smoking", "The relative hazard and risk of cancer."),
            rec("Smoking", "Risks of cancer."),
            rec("Smoking", "", mesh=("Cohort Studies",)),
            rec("Smoking", "A cohort study in Denmark."),
            rec("Smoking", "Studies of one Danish cohort."),  # cohort[tiab] AND studies[tiab], apart
        ],
        [NEUTRAL, rec("Smoking", "", mesh=("Prospective Studies",)), rec("Smoking risk", "Two groups.")],
    ),
    (
        "clinical_prediction_broad",
        [
            rec("Predicting stroke", ""),
            rec("Stroke", "", mesh=("Predictive Value of Tests",)),
            rec("Stroke", "The CHADS2 score."),
            rec("Stroke", "A scoring system for triage."),
            rec("Stroke", "Observational data."),
            rec("Stroke", "", mesh=("Observer Variation",)),
        ],
        [NEUTRAL, rec("Stroke", "Thrombolysis trial.")],
    ),
    (
        "clinical_prediction_narrow",
        [rec("Stroke", "External validation of the score."), rec("Stroke", "We validate a rule.")],
        [NEUTRAL, rec("Stroke", "The score was validated.")],
    ),
    (
        "systematic_review",
        [
            rec("Statins", "", types=("Systematic Review",)),
            rec("Statins: a systematic review and meta-analysis", ""),  # not yet MEDLINE-indexed
            rec("Statins", "", types=("Review",), journal="Cochrane Database Syst Rev", mesh=("Statins",)),
        ],
        [
            NEUTRAL,
            rec("Statins: a systematic review", "", mesh=("Statins",)),  # MEDLINE-indexed without the type
            rec("Statins: a systematic review", "", types=("Comment",)),
            rec("Statins: protocol for a systematic review", ""),
            rec("Statins", "", types=("Meta-Analysis",), mesh=("Statins",)),
            rec("Statins", "", types=("Review",), mesh=("Statins",)),
        ],
    ),
]


@pytest.mark.parametrize(("key", "positives", "negatives"), CASES, ids=[c[0] for c in CASES])
def test_filter_matches_the_records_its_published_string_selects(
    key: str, positives: list[RecordFields], negatives: list[RecordFields]
) -> None:
    for record in positives:
        assert matches(key, record), (key, record)
    for record in negatives:
        assert not matches(key, record), (key, record)


def test_every_question_and_scope_has_a_filter_and_a_test() -> None:
    keys = {cq.filter_key(q, s) for q in cq.QUESTIONS for s in cq.SCOPES} | {cq.filter_key(cq.SYSTEMATIC_REVIEWS)}
    assert keys == set(cq.FILTERS) == {c[0] for c in CASES}


@pytest.mark.parametrize(("question", "scope"), [("treatment", "broad"), ("therapy", "wide"), ("", "broad")])
def test_unknown_question_or_scope_is_a_clear_error(question: str, scope: str) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        cq.filter_key(question, scope)


def test_systematic_reviews_ignore_the_scope() -> None:
    assert cq.filter_key("systematic_reviews", "narrow") == cq.filter_key("systematic_reviews") == "systematic_review"


@pytest.mark.django_db
def test_indexed_document_carries_the_filters_its_record_matches() -> None:
    record = EvidenceRecordFactory(
        title="Metformin versus placebo: a randomized controlled trial",
        abstract_sections=[{"label": "", "category": "", "text": "Adults were randomized. Mortality at 5 years."}],
        publication_types=["Randomized Controlled Trial", "Journal Article"],
        mesh_headings=[{"descriptor": "Metformin", "major": True, "qualifiers": [["therapeutic use", False]]}],
    )
    tags = document_for(record).tags
    assert "cq:therapy_narrow" in tags and "cq:therapy_broad" in tags
    assert "cq:systematic_review" not in tags and "cq:diagnosis_narrow" not in tags
    other = EvidenceRecordFactory(title="Histology of the yeast cell wall", abstract_sections=[], abstract="")
    assert not [t for t in document_for(other).tags if t.startswith("cq:")]
