"""records_grade: what it stores, predicted versus indexed, and the regrade path."""

from __future__ import annotations

import logging

import pytest

from records.evidence.artifacts import save_artifact
from records.evidence.services import design_classifier_train, record_id_batches, records_grade
from records.evidence.training import train
from records.models import EvidenceRecord
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


def test_below_threshold_the_level_stays_unknown(model):
    record = _unindexed(title="Outcomes of asthma in a regional clinic", abstract="patients outcome clinic risk.")
    records_grade(record_ids=[record.id])
    record.refresh_from_db()
    assert record.evidence_level == "unknown"
    assert record.evidence_predicted is False
    assert record.evidence_model_version == model.version
    assert "not confident" in record.evidence_explanation["text"]


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
        )
    result = design_classifier_train()
    # The same records from the database or from files give the same model.
    assert result.result.version == trained.version
    assert (tmp_path / "models" / "design" / "CURRENT").read_text().strip() == trained.version
