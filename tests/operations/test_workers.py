"""Jobs over real Celery workers and the real Redis broker: progress from 0 to done, cancel
midway, a worker killed midway, searches during a rebuild and a re-embed (zero failures), and a
harvest that runs while the index is rebuilt (no write lost to the switch)."""

from __future__ import annotations

from typing import Any

import pytest

from operations.models import JobLock, JobStatus
from operations.selectors import job_summary
from operations.services import job_cancel, job_start, job_wait, jobs_watch
from records.models import EvidenceRecord
from search.backends import get_backend
from search.indexing import embed_pending, rebuild_index, reconcile_index, records_index
from search.services import search_records
from search.types import SearchRequest
from tests.factories import EvidenceRecordFactory
from tests.ingest.harvest_helpers import eutils_server, served_articles
from tests.operations.workers import QueryLoop, job, ops_env, wait_for
from tests.workers import HarvestEnv

__all__ = ["eutils_server", "ops_env"]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def corpus(n: int, *, vectors: bool = False) -> list[EvidenceRecord]:
    records = [
        EvidenceRecordFactory(title=f"Statin therapy trial {i} for adults with high cholesterol") for i in range(n)
    ]
    ids = [r.pk for r in records]
    for start in range(0, n, 500):
        records_index(record_ids=ids[start : start + 500])
    if vectors:
        embed_pending(limit=n)
    return records


def test_a_rebuild_moves_from_0_to_done_over_the_worker(ops_env: HarvestEnv) -> None:
    corpus(40)
    before = rebuild_index().generation
    started = job_start(kind="rebuild_index", params={"batch_size": 4}, label="test")
    seen = [(job_summary(job(started.pk))["percent"], job(started.pk).status)]
    ops_env.start_worker()
    finished = job_wait(
        job_id=started.pk,
        poll_seconds=0.05,
        timeout=180,
        report=lambda j: seen.append((job_summary(j)["percent"], j.status)),
    )
    assert seen[0] == (0.0, JobStatus.QUEUED)
    assert finished.status == JobStatus.SUCCEEDED, finished.errors
    assert (finished.done, finished.total, finished.counts["indexed"]) == (40, 40, 40)
    assert job_summary(finished)["percent"] == 100.0
    percents = [p for p, _ in seen]
    assert percents == sorted(percents)
    live = get_backend().live_generation()
    assert live == finished.result["generation"] != before
    assert finished.worker.startswith("w1-0@") and finished.heartbeat_at is not None
    assert not JobLock.objects.exists()


def test_a_job_cancelled_midway_stops_and_leaves_the_live_index(ops_env: HarvestEnv) -> None:
    corpus(200)
    live = rebuild_index().generation
    generations = get_backend().generations()
    ops_env.start_worker()
    started = job_start(kind="rebuild_index", params={"batch_size": 1}, label="test")
    wait_for(lambda: job(started.pk).done >= 5, what="the rebuild to start writing")
    job_cancel(job_id=started.pk, label="test")
    finished = job_wait(job_id=started.pk, poll_seconds=0.1, timeout=60)
    assert finished.status == JobStatus.CANCELLED
    assert 5 <= finished.done < 200
    backend = get_backend()
    assert backend.live_generation() == live and backend.generations() == generations
    assert not JobLock.objects.exists()


def test_a_worker_killed_midway_leaves_a_failed_job_with_the_reason(ops_env: HarvestEnv) -> None:
    corpus(200)
    live = rebuild_index().generation
    generations = get_backend().generations()
    worker = ops_env.start_worker()
    started = job_start(kind="rebuild_index", params={"batch_size": 1}, label="test")
    wait_for(lambda: job(started.pk).done >= 5, what="the rebuild to start writing")
    worker.kill()
    wait_for(lambda: jobs_watch().failed > 0 or not job(started.pk).is_active, timeout=60, what="the watcher")
    failed = job(started.pk)
    assert failed.status == JobStatus.FAILED
    assert "stopped answering: no heartbeat" in failed.errors[-1]
    backend = get_backend()
    assert backend.live_generation() == live and backend.generations() == generations
    # The lock went with it: the next rebuild starts and finishes on a new worker.
    ops_env.start_worker("w2")
    again = job_wait(job_id=job_start(kind="rebuild_index", label="test").pk, timeout=180)
    assert again.status == JobStatus.SUCCEEDED and again.counts["indexed"] == 200


def test_searches_keep_working_during_a_rebuild_and_a_re_embed(ops_env: HarvestEnv) -> None:
    corpus(120, vectors=True)
    rebuild_index()
    ops_env.start_worker()
    loop = QueryLoop("statin cholesterol")
    rebuild = job_start(kind="rebuild_index", params={"batch_size": 5}, label="test")
    loop.run_while(rebuild.pk)
    assert job(rebuild.pk).status == JobStatus.SUCCEEDED
    reembed = job_start(
        kind="reembed",
        params={"model": "sentence-transformers/all-MiniLM-L6-v2", "runtime": "onnx-int8", "batch_size": 20},
        label="test",
    )
    loop.run_while(reembed.pk, timeout=600)
    finished = job(reembed.pk)
    assert finished.status == JobStatus.SUCCEEDED, finished.errors
    assert loop.failures == [] and loop.empty == 0
    assert loop.queries > 20 and len(loop.generations) >= 3
    backend = get_backend()
    assert backend.vector_space() == ("sentence-transformers/all-MiniLM-L6-v2#int8", 384)
    assert finished.counts["with_vectors"] == 120
    page_ranks = [r.breakdown.vector_rank for r in search_records(SearchRequest(text="statin cholesterol")).results]
    assert any(rank is not None for rank in page_ranks)  # queries follow the new model


@pytest.mark.shared_data
def test_records_harvested_during_a_rebuild_are_in_the_new_generation(
    ops_env: HarvestEnv, eutils_server: Any, shared_data: Any
) -> None:
    from ingest.models import SavedQuery

    articles = served_articles(shared_data, ("mattgrayson__pubmed__example-data--efetch.xml.gz",))
    eutils_server.add(articles)
    ops_env.env.update(EUTILS_BASE_URL=eutils_server.base_url, EUTILS_BATCH_SIZE="10", EUTILS_RATE_LIMIT="50")
    corpus(250)
    rebuild_index()
    ops_env.start_worker("rebuilder")
    ops_env.start_worker("harvester")
    saved = SavedQuery.objects.create(name="all", query="all[sb]", datetype="edat")
    loop = QueryLoop("statin cholesterol")
    rebuild = job_start(kind="rebuild_index", params={"batch_size": 1}, label="test")
    wait_for(lambda: job(rebuild.pk).done >= 5, what="the rebuild to start writing")
    harvest = job_start(kind="harvest_pubmed", params={"saved_query": saved.pk}, label="test")
    loop.run_while(harvest.pk, rebuild.pk, timeout=600)
    rebuilt, harvested = job(rebuild.pk), job(harvest.pk)
    assert rebuilt.status == JobStatus.SUCCEEDED, rebuilt.errors
    assert harvested.status == JobStatus.SUCCEEDED, harvested.errors
    assert harvested.counts["new"] == len(articles) == 50
    # The harvest stored its records while the generation was being filled.
    assert harvested.finished_at is not None and rebuilt.finished_at is not None
    first_stored = (
        EvidenceRecord.objects.filter(source_id__in=[a.pmid for a in articles]).order_by("first_harvested_at").first()
    )
    assert first_stored is not None and first_stored.first_harvested_at < rebuilt.finished_at
    wait_for(lambda: reconcile_index(repair=False).in_step, timeout=60, what="grading hand-offs to settle")
    ids = get_backend().document_ids()
    uids = set(EvidenceRecord.objects.filter(source_id__in=[a.pmid for a in articles]).values_list("uid", flat=True))
    assert len(uids) == 50 and uids <= ids
    assert loop.failures == [] and loop.empty == 0
