"""Operations jobs on Elasticsearch: a query loop through the portal's search runs throughout a
rebuild and a re-embed (alias-swapped generations) with zero failed queries and no empty page;
a cancelled rebuild drops its generation index and leaves the alias where it was."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from operations.context import JobCancelled
from operations.models import JobStatus
from operations.services import job_run_inline
from search.backends import get_backend, reset_backends
from search.indexing import rebuild_index
from tests.operations.test_workers import corpus
from tests.operations.workers import QueryLoop

pytestmark = [pytest.mark.elasticsearch, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def elastic_default(settings: Any, es_url: str, es_prefix: str) -> Any:
    backends = dict(settings.SEARCH_BACKENDS)
    options = {**backends["elasticsearch"]["OPTIONS"], "url": es_url, "index_prefix": es_prefix}
    backends["elasticsearch"] = {**backends["elasticsearch"], "OPTIONS": options}
    settings.SEARCH_BACKENDS = backends
    settings.SEARCH_DEFAULT_BACKEND = "elasticsearch"
    reset_backends()
    yield get_backend()
    reset_backends()


def _run_in_thread(kind: str, params: dict[str, Any], loop: QueryLoop) -> Any:
    from django.db import connection

    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append(job_run_inline(kind=kind, params=params, label="test"))
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    while thread.is_alive():
        loop.once()
    thread.join()
    loop.once()
    return outcome[0]


@pytest.mark.django_db(transaction=True)
def test_searches_keep_working_during_a_rebuild_and_a_re_embed_on_elasticsearch(elastic_default: Any) -> None:
    corpus(80, vectors=True)
    first = rebuild_index().generation
    loop = QueryLoop("statin cholesterol")
    loop.once()
    rebuilt = _run_in_thread("rebuild_index", {"batch_size": 5}, loop)
    assert rebuilt.status == JobStatus.SUCCEEDED, rebuilt.errors
    model = "sentence-transformers/all-MiniLM-L6-v2"
    reembedded = _run_in_thread("reembed", {"model": model, "runtime": "onnx-int8", "batch_size": 10}, loop)
    assert reembedded.status == JobStatus.SUCCEEDED, reembedded.errors
    assert loop.failures == [] and loop.empty == 0 and loop.queries > 10
    backend = get_backend()
    live = backend.live_generation()
    assert live == reembedded.result["generation"] and live not in (first, rebuilt.result["generation"])
    reset_backends()
    assert get_backend().vector_space() == (f"{model}#int8", 384)
    assert reembedded.counts["with_vectors"] == 80


@pytest.mark.django_db
def test_a_stopped_rebuild_drops_its_generation_index(elastic_default: Any) -> None:
    corpus(30)
    backend = elastic_default
    live = rebuild_index().generation
    generations = backend.generations()

    def stop(phase: str, done: int, total: int) -> None:
        if done >= 10:
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        rebuild_index(batch_size=5, progress=stop)
    assert backend.live_generation() == live and backend.generations() == generations
