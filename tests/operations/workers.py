"""Real Celery workers for the operations tests: the index, the data folder and the embedding
cache the workers use are the test's (the cache is shared, so models are exported once)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from evidence_portal.celery import app
from operations.models import Job
from operations.services import jobs_watch
from search.backends import reset_backends
from search.services import search_records
from search.types import SearchRequest
from tests.portal.corpus import point_embedded_index_at
from tests.workers import HarvestEnv, make_env


@pytest.fixture
def ops_env(transactional_db: None, tmp_path: Path, redis_url: str, settings: Any) -> Iterator[HarvestEnv]:
    """Workers on the real Redis broker, writing to this test's index; stopped at the end."""
    data = tmp_path / "data"
    data.mkdir()
    point_embedded_index_at(settings, data / "index")
    env = make_env(
        broker="redis",
        folder=tmp_path,
        redis_url=redis_url,
        EVIDENCE_DATA_DIR=str(data),
        EMBEDDING_CACHE_DIR=str(django_settings.EMBEDDING_CACHE_DIR),
        OPS_HEARTBEAT_TIMEOUT="10",
    )
    settings.OPS_HEARTBEAT_TIMEOUT = 10
    environment = HarvestEnv(env=env, folder=tmp_path)
    # Jobs started in this process go to the workers' broker.
    previous = app.conf.broker_url
    app.conf.broker_url = env["CELERY_BROKER_URL"]
    _reset_producers()
    try:
        yield environment
    finally:
        environment.stop_all()
        app.conf.broker_url = previous
        _reset_producers()
        reset_backends()


def _reset_producers() -> None:
    from kombu import pools

    # kombu caches producer pools by connection URL: clear it, or the next test gets a closed one.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def wait_for(predicate: Callable[[], bool], *, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def job(pk: int) -> Job:
    return Job.objects.get(pk=pk)


@dataclass
class QueryLoop:
    """Searches over and over while jobs run; counts failures and empty pages."""

    text: str
    queries: int = 0
    failures: list[str] = field(default_factory=list)
    empty: int = 0
    generations: set[str] = field(default_factory=set)

    def once(self) -> None:
        from search.backends import get_backend

        self.queries += 1
        try:
            page = search_records(SearchRequest(text=self.text))
        except Exception as error:  # every failure is what the test counts
            self.failures.append(f"{type(error).__name__}: {error}")
            return
        if page.total == 0 or not page.results:
            self.empty += 1
        live = get_backend().live_generation()
        if live:
            self.generations.add(live)

    def run_while(self, *job_ids: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while any(job(pk).is_active for pk in job_ids):
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs {job_ids} still active after {timeout:g} s")
            self.once()
            jobs_watch()
        self.once()
