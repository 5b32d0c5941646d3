"""Task contracts (names, options, retries) and the hand-off of changed records to later stages."""

from __future__ import annotations

from datetime import date

import pytest

import ingest.tasks  # noqa: F401  (registers the tasks in this process)
from evidence_portal.celery import app
from ingest import pipeline, runs, steps
from ingest.harvest import Window
from ingest.models import HarvestRun, ItemKind, ItemStatus, RunStatus, WorkItem
from tests.ingest.harvest_helpers import eutils_server

__all__ = ["eutils_server"]

calls: list[tuple[str, list[int]]] = []


def recording_grade(*, record_ids: list[int]) -> None:
    calls.append(("grade", list(record_ids)))


def recording_index(*, record_ids: list[int]) -> None:
    calls.append(("index", list(record_ids)))


def broken_stage(*, record_ids: list[int]) -> None:
    raise RuntimeError("index is down")


@pytest.fixture
def recording_stages():
    calls.clear()
    previous = pipeline.set_stages(
        [
            pipeline.Stage("grade", f"{__name__}.recording_grade"),
            pipeline.Stage("index", f"{__name__}.recording_index"),
        ]
    )
    yield calls
    pipeline.set_stages(previous)


def test_tasks_have_stable_names_and_late_acknowledgement() -> None:
    for name in ("ingest.pubmed.search_window", "ingest.pubmed.fetch_batch", "ingest.load_file", "ingest.resume_runs"):
        task = app.tasks[name]
        assert task.acks_late is True
        assert task.soft_time_limit and task.time_limit and task.soft_time_limit < task.time_limit


def test_retry_delay_grows_exponentially_with_jitter(settings) -> None:
    settings.EUTILS_RETRY_BASE_SECONDS = 1.0
    delays = [[runs.run_retry_delay(retries=attempt) for _ in range(50)] for attempt in range(4)]
    for attempt, samples in enumerate(delays):
        assert all(2**attempt / 2 <= delay <= 2**attempt for delay in samples)
        assert len(set(samples)) > 1  # jitter: workers that failed together do not retry together
    assert max(runs.run_retry_delay(retries=30) for _ in range(10)) <= 300


def test_changed_records_are_handed_to_grading_then_indexing(recording_stages) -> None:
    handoff = pipeline.records_changed([3, 1, 3, 2])
    assert recording_stages == [("grade", [1, 2, 3]), ("index", [1, 2, 3])]
    assert handoff.outcomes == {"grade": "ran", "index": "ran"}


def test_nothing_changed_hands_off_nothing(recording_stages) -> None:
    assert pipeline.records_changed([]).outcomes == {}
    assert recording_stages == []


def test_a_failing_stage_is_reported_and_does_not_stop_the_others(recording_stages) -> None:
    pipeline.set_stages(
        [pipeline.Stage("index", f"{__name__}.broken_stage"), pipeline.Stage("grade", f"{__name__}.recording_grade")]
    )
    handoff = pipeline.records_changed([7])
    assert handoff.outcomes == {"index": "failed", "grade": "ran"}
    assert recording_stages == [("grade", [7])]


def test_a_stage_not_written_yet_is_skipped_as_missing(recording_stages) -> None:
    pipeline.set_stages(
        [pipeline.Stage("grade", "records.not_a_module.records_grade"), pipeline.Stage("embed", "no.such.task", "task")]
    )
    assert pipeline.records_changed([1]).outcomes == {"grade": "missing", "embed": "missing"}


def test_default_stages_are_guidelines_grading_indexing_and_the_embedding_task() -> None:
    assert [(stage.name, stage.target, stage.mode) for stage in pipeline.DEFAULT_STAGES] == [
        ("guidelines", "guidelines.services.guidelines_from_pubmed", "call"),
        ("grade", "records.evidence.services.records_grade", "call"),
        ("index", "search.indexing.records_index", "call"),
        ("embed", "search.embed_pending", "task"),
    ]


@pytest.mark.django_db
def test_step_on_a_missing_item_is_a_no_op(eutils_server, settings) -> None:
    settings.EUTILS_BASE_URL = eutils_server.base_url
    steps.window_search(item_id=987654)
    steps.batch_fetch(item_id=987654)
    steps.file_load(item_id=987654)
    assert eutils_server.requests == []


@pytest.mark.django_db
def test_step_on_a_done_item_asks_nothing_and_changes_nothing(eutils_server, settings) -> None:
    settings.EUTILS_BASE_URL = eutils_server.base_url
    run = HarvestRun.objects.create(source="eutils", query="x", datetype="edat", status=RunStatus.RUNNING)
    item = WorkItem.objects.create(
        run=run, kind=ItemKind.BATCH, key="batch:1", payload={"pmids": ["1"]}, status=ItemStatus.DONE
    )
    steps.batch_fetch(item_id=item.pk)
    run.refresh_from_db()
    assert eutils_server.requests == []
    assert (run.fetched, run.new, run.status) == (0, 0, RunStatus.RUNNING)


def _reset_producers() -> None:
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_run_start_enqueues_only_after_commit_and_resume_sends_pending_items_again(settings, tmp_path) -> None:
    previous = app.conf.broker_url
    app.conf.broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    _reset_producers()
    try:
        run = runs.run_start_eutils(
            query="aspirin", window=Window(date(2020, 1, 1), date(2020, 1, 31)), datetype="edat"
        )
        item = run.items.get()
        assert item.kind == ItemKind.WINDOW and item.enqueued_at is not None
        assert runs.run_resume(run_id=run.pk) == 1
        item.status = ItemStatus.DONE
        item.save()
        assert runs.run_resume(run_id=run.pk) == 0
    finally:
        app.conf.broker_url = previous
        _reset_producers()


@pytest.mark.django_db
def test_file_run_refuses_missing_files_before_queueing_anything(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.xml"):
        runs.run_start_files(paths=[tmp_path / "nope.xml"])
    assert not HarvestRun.objects.exists()
