"""The Elasticsearch node going away: unreachable at start (the portal stays up and says so), and
killed in the middle of a bulk load, then started again (the retried load ends exact)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.test import Client
from elasticsearch import Elasticsearch

from search import tasks
from search.backends import get_backend, reset_backends
from search.backends.base import LexicalQuery, SearchBackendUnavailable, SearchFilters
from search.documents import IndexDocument
from search.indexing import records_index
from tests.elastic.conftest import launcher_missing, make_backend
from tests.elastic.node import NodeProcess, free_port
from tests.factories import EvidenceRecordFactory
from tests.search.backend_contract import MODEL, unit

pytestmark = [pytest.mark.elasticsearch, pytest.mark.integration]


@pytest.fixture
def unreachable_url() -> str:
    """A URL where nothing listens (a port just freed)."""
    return f"http://127.0.0.1:{free_port()}"


def test_backend_reports_an_unreachable_node_without_raising(unreachable_url: str) -> None:
    backend = make_backend(unreachable_url, "down", max_retries=0, request_timeout=2)
    health = backend.health()
    assert health.ok is False
    assert "unreachable" in health.detail
    with pytest.raises(SearchBackendUnavailable):
        backend.lexical_search(LexicalQuery(terms=("aspirin",)), filters=SearchFilters(), limit=5)


@pytest.fixture
def portal_on_unreachable_elasticsearch(settings: Any, unreachable_url: str) -> Any:
    backends = dict(settings.SEARCH_BACKENDS)
    options = {**backends["elasticsearch"]["OPTIONS"], "url": unreachable_url, "max_retries": 0, "request_timeout": 2}
    backends["elasticsearch"] = {**backends["elasticsearch"], "OPTIONS": options}
    settings.SEARCH_BACKENDS = backends
    settings.SEARCH_DEFAULT_BACKEND = "elasticsearch"
    reset_backends()
    yield
    reset_backends()


@pytest.mark.django_db
def test_portal_stays_up_when_elasticsearch_is_unreachable(
    client: Client, portal_on_unreachable_elasticsearch: Any
) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["database"]["ok"] is True
    assert body["search"]["ok"] is False
    assert "unreachable" in body["search"]["detail"]
    page = client.get("/search", {"q": "aspirin stroke"})
    assert page.status_code == 503
    assert "Search is temporarily unavailable" in page.content.decode()


def vector_docs(count: int) -> list[IndexDocument]:
    return [
        IndexDocument(
            doc_id=f"b:{i}",
            title=f"Bulk record {i} on anticoagulation",
            abstract="Anticoagulation after atrial fibrillation. " * 20,
            content_hash=f"h{i}",
            vector=unit(384, (i % 384, 1.0), ((i * 7) % 384, 0.5)),
            vector_model=MODEL,
        )
        for i in range(count)
    ]


@pytest.mark.slow
def test_node_killed_mid_bulk_then_restarted_the_retried_load_is_exact() -> None:
    missing = launcher_missing()
    if missing:
        pytest.skip(missing)
    # A dedicated node: this test kills it. Same port and data folder across the restart.
    node = NodeProcess(port=free_port(), name="crash-test-node", heap="512m")
    node.start()
    try:
        docs = vector_docs(4000)
        backend = make_backend(node.url, "crash", bulk_chunk=100, max_retries=0, request_timeout=20)
        backend.index_documents(docs[:10])
        watcher = Elasticsearch(node.url, request_timeout=5)
        outcome: dict[str, object] = {}

        def load() -> None:
            try:
                outcome["report"] = backend.index_documents(docs)
            except Exception as exc:
                outcome["error"] = exc

        loader = threading.Thread(target=load)
        loader.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and loader.is_alive():
            if watcher.count(index="crash")["count"] >= 300:
                break
            time.sleep(0.2)
        assert loader.is_alive(), "the bulk load finished before the node could be stopped"
        node.kill()
        loader.join(120)
        error = outcome.get("error")
        assert isinstance(error, SearchBackendUnavailable), outcome
        # The indexing tasks retry (with backoff) exactly on this error.
        assert SearchBackendUnavailable in tasks.TASK_OPTIONS["autoretry_for"]

        node.start()
        restarted = Elasticsearch(node.url, request_timeout=150)
        restarted.cluster.health(index="crash", wait_for_status="yellow", timeout="120s")
        partial = restarted.count(index="crash")["count"]
        assert 0 < partial < len(docs)
        report = backend.index_documents(docs)  # the retry
        assert (report.indexed, report.failed) == (len(docs), 0)
        assert backend.count(filters=SearchFilters()) == len(docs)
        assert backend.document_ids() == {d.doc_id for d in docs}
        assert backend.health().vectors == len(docs)
    finally:
        node.cleanup()


@pytest.mark.slow
def test_bulk_items_rejected_with_429_are_retried_until_every_document_is_in() -> None:
    missing = launcher_missing()
    if missing:
        pytest.skip(missing)
    # A node with one write thread and a one-slot queue: concurrent bulk loads get rejected (429).
    node = NodeProcess(
        name="busy-node", heap="512m", settings={"thread_pool.write.size": "1", "thread_pool.write.queue_size": "1"}
    )
    node.start()
    try:
        seed = make_backend(node.url, "busy")
        seed.index_documents(vector_docs(1))
        docs = vector_docs(2400)
        reports: list[object] = []
        errors: list[BaseException] = []

        def load(part: list[IndexDocument]) -> None:
            backend = make_backend(node.url, "busy", bulk_chunk=25, bulk_backoff=0.1, bulk_retries=50)
            try:
                reports.append(backend.index_documents(part))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=load, args=(docs[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        assert errors == []
        assert sum(r.indexed for r in reports) == len(docs)  # type: ignore[attr-defined]
        assert all(r.failed == 0 for r in reports)  # type: ignore[attr-defined]
        assert seed.count(filters=SearchFilters()) == len(docs)
        stats = Elasticsearch(node.url).nodes.stats(metric="thread_pool")
        rejected = sum(n["thread_pool"]["write"]["rejected"] for n in stats["nodes"].values())
        assert rejected > 0, "the node rejected nothing: the test did not exercise 429 retries"
    finally:
        node.cleanup()


@pytest.mark.slow
@pytest.mark.django_db
def test_node_restarted_during_a_query_loop_the_portal_recovers_by_itself(settings: Any) -> None:
    """Searches through the portal while the node is killed and started again: a clear 503 while
    it is down, answers again once it is back, without restarting the portal, and every document
    still there."""
    missing = launcher_missing()
    if missing:
        pytest.skip(missing)
    node = NodeProcess(port=free_port(), name="query-loop-node", heap="512m")
    node.start()
    try:
        backends = dict(settings.SEARCH_BACKENDS)
        options = {
            **backends["elasticsearch"]["OPTIONS"],
            "url": node.url,
            "index_prefix": "loop",
            "max_retries": 0,
            "request_timeout": 5,
        }
        backends["elasticsearch"] = {**backends["elasticsearch"], "OPTIONS": options}
        settings.SEARCH_BACKENDS = backends
        settings.SEARCH_DEFAULT_BACKEND = "elasticsearch"
        settings.PORTAL_API_RATE = "100000/m"
        reset_backends()
        records = [EvidenceRecordFactory(title=f"Anticoagulation after atrial fibrillation {n}") for n in range(50)]
        records_index(record_ids=[record.pk for record in records])
        backend = get_backend()
        client = Client()
        statuses: list[int] = []

        def ask() -> Any:
            response = client.get("/api/v1/search", {"q": "anticoagulation"})
            statuses.append(response.status_code)
            return response

        assert ask().json()["count"] > 0
        node.kill()
        down = [ask() for _ in range(3)]
        assert {response.status_code for response in down} == {503}
        assert "temporarily unavailable" in down[0].json()["detail"]
        assert client.get("/readyz").status_code == 503

        node.start()
        Elasticsearch(node.url, request_timeout=150).cluster.health(wait_for_status="yellow", timeout="120s")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ask().status_code != 200:
            time.sleep(0.5)
        answer = ask()
        assert answer.status_code == 200 and answer.json()["count"] > 0
        assert client.get("/readyz").status_code == 200
        assert backend.count(filters=SearchFilters()) == len(records)
        assert 500 not in statuses
    finally:
        reset_backends()
        node.cleanup()
