"""Jobs without a worker: the lock under concurrent requests, a lock left by a dead worker, a
rebuild that is stopped or fails, and records written while a rebuild fills its generation."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from operations.context import JobCancelled
from operations.models import Job, JobLock, JobStatus
from operations.services import JobConflict, job_execute, job_run_inline, job_start, jobs_watch
from records.models import EvidenceRecord
from search.backends import get_backend
from search.backends.base import SearchFilters
from search.indexing import rebuild_index, reconcile_index, records_index
from tests.factories import EvidenceRecordFactory


def _corpus(n: int) -> list[EvidenceRecord]:
    records = [EvidenceRecordFactory(title=f"Statin trial {i} in adults with hypertension") for i in range(n)]
    records_index(record_ids=[r.pk for r in records])
    return records


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_rebuild_requests_start_one_job(own_index: Any) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def request() -> None:
        try:
            barrier.wait()
            outcomes.append(job_start(kind="rebuild_index", label="thread", enqueue=False))
        except JobConflict as conflict:
            outcomes.append(conflict)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    started = [o for o in outcomes if isinstance(o, Job)]
    refused = [o for o in outcomes if isinstance(o, JobConflict)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    assert refused[0].job.pk == started[0].pk
    assert Job.objects.count() == 1
    assert JobLock.objects.get(name="search-index").job_id == started[0].pk


@pytest.mark.django_db
def test_a_lock_left_by_a_dead_worker_expires(own_index: Any, settings: Any) -> None:
    settings.OPS_HEARTBEAT_TIMEOUT = 5
    dead = job_start(kind="rebuild_index", label="killed", enqueue=False)
    Job.objects.filter(pk=dead.pk).update(
        status=JobStatus.RUNNING, worker="w1@gone", heartbeat_at=timezone.now() - timedelta(seconds=3)
    )
    with pytest.raises(JobConflict):  # still beating recently: the lock holds
        job_start(kind="rebuild_index", label="second", enqueue=False)
    Job.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=30))
    fresh = job_start(kind="rebuild_index", label="third", enqueue=False)
    dead.refresh_from_db()
    assert dead.status == JobStatus.FAILED
    assert "w1@gone stopped answering: no heartbeat for 30 s" in dead.errors[-1]
    assert JobLock.objects.get(name="search-index").job_id == fresh.pk


@pytest.mark.django_db
def test_a_running_job_whose_worker_went_silent_is_failed_and_its_generation_dropped(
    own_index: Any, settings: Any
) -> None:
    settings.OPS_HEARTBEAT_TIMEOUT = 5
    _corpus(3)
    backend = get_backend()
    live = rebuild_index().generation
    before = backend.generations()
    partial = backend.create_generation()
    job = job_start(kind="rebuild_index", label="killed", enqueue=False)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, result={"generation": partial}, heartbeat_at=timezone.now() - timedelta(seconds=60)
    )
    assert jobs_watch().failed == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "stopped answering" in job.errors[-1]
    assert backend.generations() == before and backend.live_generation() == live
    assert not JobLock.objects.exists()


@pytest.mark.django_db
def test_a_stopped_rebuild_drops_its_generation_and_leaves_the_live_one(own_index: Any) -> None:
    _corpus(12)
    backend = get_backend()
    live = rebuild_index().generation
    before = backend.generations()

    def stop(phase: str, done: int, total: int) -> None:
        if done >= 4:
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        rebuild_index(batch_size=2, progress=stop)
    assert backend.generations() == before and backend.live_generation() == live
    assert backend.count(filters=SearchFilters()) == 12


@pytest.mark.django_db
def test_cancelling_a_rebuild_job_midway_marks_it_cancelled(own_index: Any) -> None:
    _corpus(12)
    backend = get_backend()
    live = rebuild_index().generation
    before = backend.generations()
    job = job_start(kind="rebuild_index", params={"batch_size": 2}, label="test", enqueue=False)
    original = backend.generation_backend

    def cancel_after_create(name: str) -> Any:
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        return original(name)

    backend.generation_backend = cancel_after_create  # type: ignore[method-assign]
    try:
        assert job_execute(job_id=job.pk) == JobStatus.CANCELLED
    finally:
        backend.generation_backend = original  # type: ignore[method-assign]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert backend.generations() == before and backend.live_generation() == live
    assert not JobLock.objects.exists()


@pytest.mark.django_db
def test_records_saved_while_the_generation_fills_are_in_it_after_the_switch(own_index: Any) -> None:
    records = _corpus(10)
    backend = get_backend()
    rebuild_index()
    wrote: list[str] = []

    def harvest_meanwhile(phase: str, done: int, total: int) -> None:
        # After the first batch: a harvest stores a new record, updates one already copied and
        # withdraws another, and hands them to indexing (the live, old generation) as it does.
        if done == 2 and not wrote:
            new = EvidenceRecordFactory(title="Harvested during the rebuild: statins and gout")
            EvidenceRecord.objects.filter(pk=records[0].pk).update(
                title="Updated during the rebuild", updated_at=timezone.now()
            )
            EvidenceRecord.objects.filter(pk=records[1].pk).update(deleted_at=timezone.now(), updated_at=timezone.now())
            records_index(record_ids=[new.pk, records[0].pk, records[1].pk])
            wrote.append(new.uid)

    report = rebuild_index(batch_size=2, progress=harvest_meanwhile)
    assert wrote and report.caught_up >= 2
    ids = backend.document_ids()
    assert wrote[0] in ids and records[1].uid not in ids and len(ids) == 10
    assert reconcile_index(repair=False).in_step


@pytest.mark.django_db
def test_an_inline_rebuild_job_reports_progress_to_done(own_index: Any) -> None:
    _corpus(7)
    job = job_run_inline(kind="rebuild_index", params={"batch_size": 3})
    assert job.status == JobStatus.SUCCEEDED
    assert (job.done, job.total, job.counts["indexed"]) == (7, 7, 7)
    assert job.result["generation"] == get_backend().live_generation() == job.result["live_after"]
    assert job.finished_at is not None and job.errors == []
