"""The regrade command goes through the real Celery pipeline: a worker process grades the records."""

from __future__ import annotations

import time

import pytest

from records.models import EvidenceRecord
from tests.factories import EvidenceRecordFactory
from tests.workers import harvest_env, redis_harvest_env  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_for(predicate, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def _regrade_through_worker(env) -> None:
    records = [
        EvidenceRecordFactory(publication_types=["Journal Article", "Meta-Analysis"]),
        EvidenceRecordFactory(publication_types=["Randomized Controlled Trial"]),
        EvidenceRecordFactory(publication_types=["Case Reports"]),
    ]
    env.start_worker("grader")
    result = env.manage("regrade_records", "--batch-size", "2", check=True)
    assert "enqueued records.regrade_all" in result.stdout

    def all_graded() -> bool:
        return not EvidenceRecord.objects.filter(id__in=[r.id for r in records], evidence_level__isnull=True).exists()

    assert _wait_for(all_graded), env.workers[0].output()[-3000:]
    levels = dict(EvidenceRecord.objects.filter(id__in=[r.id for r in records]).values_list("id", "evidence_level"))
    assert [levels[r.id] for r in records] == ["systematic_review", "rct", "case_series"]
    log = env.workers[0].output()
    assert "records.regrade_all" in log
    assert log.count("records.grade_records") >= 2  # two batches of at most two records


def test_regrade_command_grades_through_a_real_worker(harvest_env):  # noqa: F811
    _regrade_through_worker(harvest_env)


def test_regrade_command_grades_through_a_real_worker_on_redis(redis_harvest_env):  # noqa: F811
    _regrade_through_worker(redis_harvest_env)


def test_regrade_sync_grades_inline(harvest_env):  # noqa: F811
    record = EvidenceRecordFactory(publication_types=["Editorial"])
    result = harvest_env.manage("regrade_records", "--sync", check=True)
    assert "graded 1 records" in result.stdout
    record.refresh_from_db()
    assert record.evidence_level == "expert_opinion"


def test_retrain_task_trains_from_the_database_and_regrades_unindexed_records(harvest_env):  # noqa: F811
    from records.evidence.artifacts import current_version
    from tests.records.design_corpus import corpus

    for example in corpus():
        EvidenceRecordFactory(
            source_id=example.pmid,
            title=example.title,
            abstract=example.abstract,
            publication_types=list(example.publication_types),
            mesh_headings=[{"descriptor": d, "major": False, "qualifiers": []} for d in example.mesh_descriptors],
        )
    waiting = EvidenceRecordFactory(
        title="A randomised trial of a new drug for sepsis",
        abstract="Adults were randomised to placebo or drug, double-blind; trial registration NCT01234567.",
        publication_types=["Journal Article"],
        mesh_headings=[],
        publication_status="In-Process",
    )
    # A data dir of its own, so the model trained here grades nothing in other tests.
    harvest_env.env["EVIDENCE_DATA_DIR"] = str(harvest_env.folder / "data")
    models = harvest_env.folder / "data" / "models" / "design"
    harvest_env.start_worker("trainer")
    result = harvest_env.manage("train_design_classifier", "--enqueue", check=True)
    assert "enqueued records.retrain_design_classifier" in result.stdout

    def predicted() -> bool:
        waiting.refresh_from_db()
        return waiting.evidence_predicted

    assert _wait_for(predicted, timeout=180), harvest_env.workers[0].output()[-3000:]
    assert waiting.evidence_level == "rct"
    assert waiting.evidence_model_version == current_version(models)
