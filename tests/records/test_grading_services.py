"""records_grade: what it stores, predicted versus indexed, and the regrade path."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import call_command

from records.evidence.artifacts import save_artifact
from records.evidence.classifier import REASON_NOTICE
from records.evidence.levels import expected_strength, level_strength
from records.evidence.services import (
    design_classifier_train,
    design_prediction_report,
    record_id_batches,
    records_grade,
)
from records.evidence.training import train
from records.models import DesignPredictionCheck, EvidenceRecord
from tests.factories import EvidenceRecordFactory
from tests.records.design_corpus import corpus

pytestmark = pytest.mark.django_db

RCT_TITLE = "A randomised trial of a new drug for asthma"
RCT_ABSTRACT = "Patients were randomised to placebo or drug, double-blind, allocated; registration NCT01234567."


@pytest.fixture(scope="module")
def trained():
    return train(corpus())


@pytest.fixture
def model(trained, settings, tmp_path):
    """A trained design classifier, current in this test's data dir."""
    settings.EVIDENCE_DATA_DIR = tmp_path
    save_artifact(artifact=trained.artifact, metrics=trained.metrics)
    return trained


@pytest.fixture
def no_model(settings, tmp_path):
    settings.EVIDENCE_DATA_DIR = tmp_path / "empty"


def _unindexed(**extra):
    fields = {
        "title": RCT_TITLE,
        "abstract": RCT_ABSTRACT,
        "publication_types": ["Journal Article"],
        "mesh_headings": [],
        "publication_status": "Publisher",
    }
    fields.update(extra)
    return EvidenceRecordFactory(**fields)


def test_records_grade_stores_grade_explanation_and_source(no_model):
    record = EvidenceRecordFactory(publication_types=["Journal Article", "Meta-Analysis"])
    assert records_grade(record_ids=[record.id]) == 1
    record.refresh_from_db()
    assert record.evidence_level == "systematic_review"
    assert record.evidence_explanation == {
        "text": "systematic review: PubMed publication type Meta-Analysis",
        "reasons": ["PubMed publication type Meta-Analysis"],
        "source": "indexed",
        "retracted": False,
    }
    assert record.evidence_predicted is False
    assert record.evidence_model_version == "rules-1"
    assert record.evidence_probability is None


def test_retracted_record_keeps_level_and_says_so(no_model):
    record = EvidenceRecordFactory(publication_types=["Randomized Controlled Trial"], retracted=True)
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_level == "rct"
    assert record.evidence_explanation["retracted"] is True
    assert "retracted" in record.evidence_explanation["text"]


def test_guideline_records_are_graded_guideline(no_model):
    record = EvidenceRecordFactory(guideline=True, publication_types=[])
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_level == "guideline"
    assert "US Preventive Services Task Force" in record.evidence_explanation["text"]


def test_unindexed_record_gets_a_predicted_grade_with_model_and_probability(model):
    record = _unindexed()
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_level == "rct"
    assert record.evidence_predicted is True
    assert record.evidence_model_version == model.version
    assert 0.5 <= record.evidence_probability <= 1.0
    assert record.evidence_explanation["source"] == "predicted"
    assert "predicted" in record.evidence_explanation["text"]
    # Every rung's probability is stored, and the strength ranking reads is their expectation.
    assert set(record.evidence_probabilities) == {"rct", "systematic_review", "cohort"}
    assert record.evidence_probability == max(record.evidence_probabilities.values())
    assert record.evidence_strength == pytest.approx(expected_strength(record.evidence_probabilities), abs=1e-4)
    assert record.evidence_explanation["cues"]
    assert "top cues" in record.evidence_explanation["text"]


def test_below_the_threshold_setting_the_level_stays_unknown_but_keeps_its_probabilities(model, settings):
    settings.EVIDENCE_PREDICTION_THRESHOLD = 0.99
    record = _unindexed(title="Notes on asthma", abstract="The patients and the dose in the clinic.")
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_level == "unknown"
    assert record.evidence_predicted is False
    assert record.evidence_model_version == model.version
    assert "found no design likely enough" in record.evidence_explanation["text"]
    assert record.evidence_probabilities
    assert record.evidence_strength == pytest.approx(expected_strength(record.evidence_probabilities), abs=1e-4)


def test_an_unindexed_notice_is_unknown_with_the_reason_and_no_boost(model):
    record = _unindexed(title="Erratum: A randomised trial of a new drug for asthma", abstract="A dose was wrong.")
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_level == "unknown"
    assert REASON_NOTICE in record.evidence_explanation["text"]
    assert record.evidence_probabilities == {}
    assert record.evidence_strength == 0.0


def test_an_unindexed_record_without_abstract_is_predicted_from_its_title(model):
    record = _unindexed(abstract="")
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_probabilities
    assert "read from the title only" in record.evidence_explanation["text"]


def test_records_of_other_kinds_are_never_predicted(model):
    recommendation = _unindexed(kind="recommendation", issuing_body="NICE")
    other = _unindexed(kind="dataset")  # a kind grading does not know: left as it is
    assert records_grade(record_ids=[recommendation.id, other.id]) == 1
    recommendation.refresh_from_db()
    other.refresh_from_db()
    assert recommendation.evidence_level == "guideline"
    assert recommendation.evidence_probabilities == {}
    assert recommendation.evidence_predicted is False
    assert other.evidence_level is None


def test_without_a_model_unindexed_records_stay_unknown(no_model):
    record = _unindexed()
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_level == "unknown"
    assert record.evidence_predicted is False
    assert record.evidence_model_version == "rules-1"


def test_damaged_model_leaves_unindexed_records_unknown_and_logs(model, settings, caplog):
    folder = settings.EVIDENCE_DATA_DIR / "models" / "design" / model.version
    (folder / "model.json").write_text("{}")
    record = _unindexed()
    with caplog.at_level(logging.ERROR):
        assert records_grade(record_ids=[record.id]) == 1
    record.refresh_from_db()
    assert record.evidence_level == "unknown"
    assert "design classifier unusable" in caplog.text


def test_indexed_grade_replaces_predicted_on_regrade(model):
    record = _unindexed()
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_predicted is True

    # PubMed indexes it (the harvest upserts the new types and MeSH), and the regrade follows.
    EvidenceRecord.objects.filter(id=record.id).update(
        publication_types=["Journal Article", "Clinical Trial, Phase II"],
        mesh_headings=[{"descriptor": "Humans", "major": False, "qualifiers": []}],
        publication_status="MEDLINE",
    )
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_level == "non_randomised_trial"
    assert record.evidence_predicted is False
    assert record.evidence_probability is None
    assert record.evidence_explanation["source"] == "indexed"
    assert record.evidence_model_version == "rules-1"
    assert record.evidence_probabilities == {}
    assert record.evidence_strength == level_strength("non_randomised_trial")
    # The prediction is checked against the indexing, once.
    check = DesignPredictionCheck.objects.get(record=record)
    assert (check.predicted_level, check.indexed_level, check.model_version) == (
        "rct",
        "non_randomised_trial",
        model.version,
    )
    records_grade(record_ids=[record.id])
    assert DesignPredictionCheck.objects.count() == 1


def test_report_counts_how_often_later_indexing_confirmed_the_prediction(model):
    confirmed, refuted = _unindexed(), _unindexed()
    records_grade(record_ids=[confirmed.id, refuted.id])
    EvidenceRecord.objects.filter(id=confirmed.id).update(
        publication_types=["Randomized Controlled Trial"], publication_status="MEDLINE"
    )
    EvidenceRecord.objects.filter(id=refuted.id).update(
        publication_types=["Case Reports"], publication_status="MEDLINE"
    )
    records_grade(record_ids=[confirmed.id, refuted.id])
    report = design_prediction_report()
    assert report["rungs"]["rct"] == {"checked": 2, "confirmed": 1, "accuracy": 0.5}
    assert report["overall"]["accuracy"] == 0.5
    out = StringIO()
    call_command("train_design_classifier", "--report", stdout=out)
    assert "rct" in out.getvalue() and "0.500" in out.getvalue()


def test_report_without_checks_says_there_is_nothing_to_compare(no_model):
    out = StringIO()
    call_command("train_design_classifier", "--report", stdout=out)
    assert "nothing to compare" in out.getvalue()


def test_missing_ids_are_ignored(no_model):
    record = EvidenceRecordFactory()
    assert records_grade(record_ids=[record.id, record.id + 1000]) == 1
    assert records_grade(record_ids=[]) == 0


def test_many_records_are_graded_in_bulk(no_model, django_assert_max_num_queries):
    records = EvidenceRecordFactory.create_batch(600, publication_types=["Case Reports"])
    with django_assert_max_num_queries(12):
        assert records_grade(record_ids=[r.id for r in records]) == 600
    assert EvidenceRecord.objects.filter(evidence_level="case_series").count() == 600


def test_record_batches_cover_every_live_record_once(no_model):
    records = EvidenceRecordFactory.create_batch(7)
    batches = list(record_id_batches(batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert sorted(i for b in batches for i in b) == sorted(r.id for r in records)


def test_unsettled_batches_skip_records_with_an_indexed_grade(no_model):
    settled = EvidenceRecordFactory(publication_types=["Randomized Controlled Trial"])
    waiting = _unindexed()
    records_grade(record_ids=[settled.id, waiting.id])
    ungraded = EvidenceRecordFactory()
    ids = [i for b in record_id_batches(only_unsettled=True) for i in b]
    assert sorted(ids) == sorted([waiting.id, ungraded.id])


def test_training_from_the_database_learns_from_pubmeds_indexing(trained, settings, tmp_path):
    settings.EVIDENCE_DATA_DIR = tmp_path
    for example in corpus():
        EvidenceRecordFactory(
            source_id=example.pmid,
            title=example.title,
            abstract=example.abstract,
            publication_types=list(example.publication_types),
            mesh_headings=[{"descriptor": d, "major": False, "qualifiers": []} for d in example.mesh_descriptors],
            publication_status=example.publication_status,
            journal=example.journal,
            abstract_sections=[{"label": label, "category": "", "text": "x"} for label in example.section_labels],
        )
    result = design_classifier_train()
    # The same records from the database or from files give the same model.
    assert result.result.version == trained.version
    assert (tmp_path / "models" / "design" / "CURRENT").read_text().strip() == trained.version
