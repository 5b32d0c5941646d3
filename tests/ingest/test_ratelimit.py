"""The E-utilities rate limit holds across processes: in Redis, in the database, at the server."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from ingest import ratelimit
from ingest.models import HarvestRun, RunStatus
from tests.ingest.harvest_helpers import eutils_server, served_articles, stored_pmids
from tests.workers import any_harvest_env, broker

__all__ = ["any_harvest_env", "broker", "eutils_server"]


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    best = start = 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_rate_is_three_without_an_api_key_and_ten_with_one(settings) -> None:
    settings.EUTILS_RATE_LIMIT = 0.0
    assert ratelimit.requests_per_second(has_api_key=False) == 3
    assert ratelimit.requests_per_second(has_api_key=True) == 10
    settings.EUTILS_RATE_LIMIT = 5.0
    assert ratelimit.requests_per_second(has_api_key=False) == 5


def test_slots_are_spaced_so_no_second_holds_more_than_the_rate(settings) -> None:
    assert ratelimit.slot_interval(rate=3) * 3 > 1.0


def test_limiter_uses_redis_when_the_broker_is_redis(settings) -> None:
    settings.REDIS_URL = None
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6391/3"
    assert ratelimit.redis_url() == "redis://127.0.0.1:6391/3"
    settings.CELERY_BROKER_URL = "sqla+sqlite:///broker.sqlite3"
    assert ratelimit.redis_url() is None


def _hammer(calls: int, threads: int, *, use_db: bool) -> list[float]:
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(calls):
                ratelimit.acquire(has_api_key=False)
                with lock:
                    stamps.append(time.monotonic())
        finally:
            if use_db:
                connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return stamps


@pytest.mark.integration
def test_redis_limiter_holds_across_concurrent_callers(settings, redis_url) -> None:
    settings.REDIS_URL = redis_url.rsplit("/", 1)[0] + "/12"
    settings.EUTILS_RATE_LIMIT = 0.0
    stamps = _hammer(3, 4, use_db=False)
    assert len(stamps) == 12
    assert most_in_any_second(stamps) <= 3


@pytest.mark.django_db(transaction=True)
def test_database_limiter_holds_across_concurrent_callers(settings) -> None:
    settings.REDIS_URL = None
    settings.CELERY_BROKER_URL = "sqla+sqlite:///unused.sqlite3"
    settings.EUTILS_RATE_LIMIT = 0.0
    stamps = _hammer(2, 4, use_db=True)
    assert len(stamps) == 8
    assert most_in_any_second(stamps) <= 3


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_rate_limit_holds_across_two_worker_processes(any_harvest_env, eutils_server, shared_data) -> None:
    articles = served_articles(shared_data, ("mattgrayson__pubmed__example-data--efetch.xml.gz",))
    eutils_server.add(articles)
    env = any_harvest_env
    # No API key: NCBI allows 3 requests/s for the key-less caller, however many workers run.
    env.env.update(EUTILS_BASE_URL=eutils_server.base_url, EUTILS_BATCH_SIZE="4", EUTILS_RATE_LIMIT="0")
    first = env.start_worker("a")
    second = env.start_worker("b")

    result = env.manage("harvest_pubmed", "--query", "all[sb]", "--from", "1900/01/01", "--to", "2030/12/31", "--wait")

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(stored_pmids()) == {article.pmid for article in articles}
    assert HarvestRun.objects.get().status == RunStatus.SUCCEEDED
    requests = eutils_server.requests
    assert len(requests) >= 13
    assert eutils_server.max_requests_in_any_second() <= 3
    # Both workers fetched: the limit was shared, not just one process being slow.
    for worker in (first, second):
        assert "ingest.pubmed.fetch_batch" in worker.output() and "succeeded" in worker.output()
