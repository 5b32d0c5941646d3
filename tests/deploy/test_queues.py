"""Named Celery queues: routing by task name, and a backfill that never delays alerts or admin jobs."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings

from evidence_portal.celery import app
from tests.workers import HarvestEnv, redis_harvest_env  # noqa: F401  (fixture)

BACKLOG = 2000


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("ingest.pubmed.search_window", "harvest"),
        ("ingest.pubmed.fetch_batch", "harvest"),
        ("ingest.guidelines.harvest_source", "harvest"),
        ("ingest.resume_runs", "harvest"),
        ("ingest.load_file", "ingest"),
        ("records.grade_records", "ingest"),
        ("search.index_records", "ingest"),
        ("search.embed_pending", "embed"),
        ("curation.compute_alerts", "alerts"),
        ("operations.refresh_statistics", "admin"),
        ("records.regrade_all", "admin"),
        ("records.retrain_design_classifier", "admin"),
        ("newapp.some_task", "ingest"),
    ],
)
def test_tasks_are_routed_to_their_queue_by_name(task: str, queue: str) -> None:
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_a_worker_without_queues_consumes_every_queue() -> None:
    assert {q.name for q in app.amqp.queues.values()} == set(settings.CELERY_QUEUE_NAMES)


def _succeeded(env: HarvestEnv, task: str) -> bool:
    return any(f"Task {task}[" in line and "succeeded" in line for w in env.workers for line in w.output().splitlines())


@pytest.mark.integration
@pytest.mark.slow
def test_an_embedding_backfill_does_not_delay_alerts_or_admin_jobs(redis_harvest_env: HarvestEnv) -> None:  # noqa: F811
    env = redis_harvest_env
    broker = redis.Redis.from_url(env.env["CELERY_BROKER_URL"])
    env.start_worker("embed", queues="embed")
    env.start_worker("alerts-admin", queues="alerts,admin")
    env.manage(
        "shell",
        "-c",
        "from search.tasks import embed_pending\n"
        f"for _ in range({BACKLOG}): embed_pending.delay(limit=100)\n"
        "from evidence_portal.celery import app\n"
        "app.send_task('curation.compute_alerts', [[]])\n"
        "app.send_task('records.regrade_all')\n",
        check=True,
    )
    queued_at = time.monotonic()
    while not (_succeeded(env, "curation.compute_alerts") and _succeeded(env, "records.regrade_all")):
        assert time.monotonic() - queued_at < 60, "\n".join(w.output()[-2000:] for w in env.workers)
        time.sleep(0.1)
    waited = time.monotonic() - queued_at
    backlog = broker.llen("embed")
    # Both ran while most of the backfill was still waiting in its own queue.
    assert backlog > BACKLOG // 2, (backlog, waited)
    assert waited < 30
