"""What only the Elasticsearch backend does, against the real node: clear errors on conflicting
mappings and missing indices, per-document bulk errors, paging, highlighting, retention, and
zero-downtime rebuilds under a concurrent query loop."""

from __future__ import annotations

import threading

import pytest
from elasticsearch import Elasticsearch

from search.backends.base import LexicalQuery, SearchBackendError, SearchFilters
from search.backends.elastic import ElasticsearchBackend
from search.backends.elastic_queries import MAX_NUM_CANDIDATES, knn_clause
from search.documents import IndexDocument
from tests.elastic.conftest import make_backend
from tests.search.backend_contract import MODEL, unit

pytestmark = [pytest.mark.elasticsearch, pytest.mark.integration]


def doc(doc_id: str, title: str, **fields: object) -> IndexDocument:
    return IndexDocument(doc_id=doc_id, title=title, content_hash=f"h-{doc_id}-{title}", **fields)  # type: ignore[arg-type]


def test_index_created_by_hand_with_conflicting_mapping_is_refused_clearly(
    es_backend: ElasticsearchBackend, es_client: Elasticsearch, es_prefix: str
) -> None:
    name = f"{es_prefix}-g1000000000000000000"
    es_client.indices.create(index=name, mappings={"properties": {"publication_year": {"type": "keyword"}}})
    es_client.indices.put_alias(index=name, name=es_prefix)
    with pytest.raises(SearchBackendError, match=r"conflicting mapping.*publication_year.*keyword.*expected integer"):
        es_backend.index_documents([doc("c:1", "Aspirin")])


def test_missing_generation_index_gives_a_clear_error(
    es_backend: ElasticsearchBackend, es_client: Elasticsearch
) -> None:
    es_backend.index_documents([doc("m:1", "Aspirin")])
    generation = es_backend.create_generation()
    pinned = es_backend.generation_backend(generation)
    es_client.indices.delete(index=generation)
    with pytest.raises(SearchBackendError, match=rf"index {generation} is missing"):
        pinned.lexical_search(LexicalQuery(terms=("aspirin",)), filters=SearchFilters(), limit=5)
    with pytest.raises(SearchBackendError, match=rf"index {generation} is missing"):
        pinned.index_documents([doc("m:2", "Warfarin")])
    with pytest.raises(SearchBackendError, match="no generation"):
        es_backend.switch_generation(generation)


def test_rejected_document_is_reported_and_the_rest_are_indexed(
    es_backend: ElasticsearchBackend, es_client: Elasticsearch
) -> None:
    es_backend.index_documents([doc("r:0", "Seed")])
    live = es_backend.live_generation()
    assert live is not None
    # A year the integer field cannot hold: Elasticsearch rejects just that document.
    bad = doc("r:bad", "Bad year", publication_year=10**12)
    report = es_backend.index_documents([doc("r:1", "Good one"), bad, doc("r:2", "Good two")])
    assert (report.indexed, report.failed) == (2, 1)
    assert report.errors and report.errors[0].startswith("r:bad: ")
    assert "publication_year" in report.errors[0]
    assert es_backend.document_ids() == {"r:0", "r:1", "r:2"}


def test_search_after_pages_through_every_match_once(es_backend: ElasticsearchBackend) -> None:
    es_backend.index_documents([doc(f"p:{i:03d}", f"Asthma inhaler study {i}") for i in range(45)])
    seen: list[str] = []
    cursor = None
    while True:
        hits, cursor = es_backend.search_page(
            LexicalQuery(terms=("asthma",)), filters=SearchFilters(), size=10, search_after=cursor
        )
        seen += [h.doc_id for h in hits]
        if cursor is None:
            break
    assert len(seen) == 45
    assert set(seen) == {f"p:{i:03d}" for i in range(45)}


def test_highlights_mark_stemmed_matches(es_backend: ElasticsearchBackend) -> None:
    es_backend.index_documents([doc("h:1", "Running trials of aspirin", abstract="Runners ran")])
    marked = es_backend.highlights(LexicalQuery(terms=("run",)), ["h:1"])
    assert marked["h:1"]["title"] == ["<em>Running</em> trials of aspirin"]


def test_int8_vector_option_still_finds_the_nearest(es_url: str, es_prefix: str) -> None:
    backend = make_backend(es_url, es_prefix, vector_index_type="int8_hnsw")
    docs = [doc(f"v:{i}", f"Doc {i}", vector=unit(384, (i, 1.0), (i + 1, 0.3)), vector_model=MODEL) for i in range(20)]
    backend.index_documents(docs)
    hits = backend.vector_search(unit(384, (7, 1.0), (8, 0.3)), filters=SearchFilters(), limit=3)
    assert hits[0].doc_id == "v:7"
    assert backend.vector_space() == (MODEL, 384)


def test_unknown_vector_index_type_is_refused(es_url: str, es_prefix: str) -> None:
    with pytest.raises(ValueError, match="vector_index_type"):
        make_backend(es_url, es_prefix, vector_index_type="flat_lsh")


def test_switch_keeps_previous_generation_and_drops_older_ones(es_url: str, es_prefix: str) -> None:
    backend = make_backend(es_url, es_prefix, keep_generations=2)
    backend.index_documents([doc("k:1", "First")])
    first = backend.live_generation()
    second = backend.create_generation()
    backend.switch_generation(second)
    assert backend.generations() == [first, second]  # previous kept for rollback
    third = backend.create_generation()
    backend.switch_generation(third)
    assert backend.generations() == [second, third]
    backend.switch_generation(second)  # rollback
    assert backend.live_generation() == second


def test_rebuild_under_a_concurrent_query_loop_never_fails_a_search(es_backend: ElasticsearchBackend) -> None:
    es_backend.index_documents([doc(f"o:{i}", f"Hypertension trial {i}") for i in range(200)])
    failures: list[BaseException] = []
    counts: list[int] = []
    stop = threading.Event()

    def query_loop() -> None:
        reader = ElasticsearchBackend(es_backend.alias, **es_backend.options)
        while not stop.is_set():
            try:
                hits = reader.lexical_search(LexicalQuery(terms=("hypertension",)), filters=SearchFilters(), limit=500)
                counts.append(len(hits))
            except BaseException as exc:  # every failure counts, whatever it is
                failures.append(exc)

    threads = [threading.Thread(target=query_loop) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(2):
            new = es_backend.create_generation()
            target = es_backend.generation_backend(new)
            report = target.index_documents([doc(f"n:{i}", f"Hypertension cohort {i}") for i in range(300)])
            assert report.indexed == 300
            assert target.count(filters=SearchFilters()) == 300
            es_backend.switch_generation(new)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert failures == []
    assert len(counts) > 5
    assert set(counts) <= {200, 300}  # each search saw one whole generation, never a half-built one
    assert counts[-1] == 300


def test_knn_candidates_scale_with_the_factor_within_bounds() -> None:
    vector = [1.0, 0.0]
    assert knn_clause(vector, SearchFilters(), 200, candidate_factor=3)["num_candidates"] == 600
    assert knn_clause(vector, SearchFilters(), 5, candidate_factor=3)["num_candidates"] == 100
    assert knn_clause(vector, SearchFilters(), 2000, candidate_factor=10)["num_candidates"] == MAX_NUM_CANDIDATES


def test_the_smallest_candidate_factor_still_finds_the_nearest(es_url: str, es_prefix: str) -> None:
    backend = make_backend(es_url, es_prefix, knn_candidate_factor=1)
    docs = [doc(f"v:{i}", f"Doc {i}", vector=unit(384, (i, 1.0), (i + 1, 0.3)), vector_model=MODEL) for i in range(20)]
    backend.index_documents(docs)
    hits = backend.vector_search(unit(384, (7, 1.0), (8, 0.3)), filters=SearchFilters(), limit=3)
    assert hits[0].doc_id == "v:7" and len(hits) == 3
    with pytest.raises(ValueError, match="knn_candidate_factor"):
        make_backend(es_url, es_prefix, knn_candidate_factor=0.5)
