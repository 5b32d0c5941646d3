"""SciFact through the real pipeline on both backends: ``evaluate_relevance --backend
elasticsearch`` must rank like the embedded backend, and the node's HNSW dense top-10 must match
exact (numpy) search. Vectors come from the embedding disk cache after the first run."""

from __future__ import annotations

import json
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from elasticsearch import Elasticsearch

from search.backends import reset_backends
from search.backends.base import SearchFilters
from search.embeddings import document_text, get_embedder
from search.evaluation import build_documents, load_beir
from tests.elastic.conftest import cleanup_prefix, make_backend

pytestmark = [pytest.mark.elasticsearch, pytest.mark.integration, pytest.mark.shared_data, pytest.mark.slow]

HYBRID_TOLERANCE = 0.02
DENSE_AGREEMENT = 0.95


@pytest.fixture
def scifact(shared_data: Path) -> Path:
    path = shared_data / "scifact"
    if not path.is_dir():
        pytest.skip("../shared/data/scifact is not here")
    return path


@pytest.fixture
def elastic_settings(settings: Any, es_url: str, es_client: Elasticsearch) -> Any:
    prefix = f"eval-{uuid.uuid4().hex[:8]}"
    backends = dict(settings.SEARCH_BACKENDS)
    options = {**backends["elasticsearch"]["OPTIONS"], "url": es_url, "index_prefix": prefix}
    backends["elasticsearch"] = {**backends["elasticsearch"], "OPTIONS": options}
    settings.SEARCH_BACKENDS = backends
    reset_backends()
    yield prefix
    reset_backends()
    cleanup_prefix(es_client, prefix)


def evaluate(scifact: Path, backend: str) -> dict[str, Any]:
    out = StringIO()
    call_command(
        "evaluate_relevance",
        "--beir",
        str(scifact),
        "--split",
        "train",
        "--mode",
        "hybrid",
        "--backend",
        backend,
        "--no-peers",
        "--json",
        stdout=out,
    )
    return json.loads(out.getvalue())


@pytest.mark.timeout(2400)  # embeds SciFact when no earlier test has (the disk cache serves the rest)
def test_hybrid_ndcg_on_elasticsearch_matches_the_embedded_backend(scifact: Path, elastic_settings: str) -> None:
    embedded = evaluate(scifact, "embedded")["hybrid"]
    elastic = evaluate(scifact, "elasticsearch")["hybrid"]
    assert embedded["queries"] == elastic["queries"] > 500
    assert embedded["ndcg_at_10"] > 0.5  # sanity: the pipeline works at all
    assert abs(elastic["ndcg_at_10"] - embedded["ndcg_at_10"]) <= HYBRID_TOLERANCE, (embedded, elastic)


def test_dense_top10_on_elasticsearch_equals_exact_search(scifact: Path, es_url: str, es_prefix: str) -> None:
    collection = load_beir(scifact, split="train")
    embedder = get_embedder()
    doc_vectors = embedder.embed_texts([document_text(t, x) for t, x in collection.corpus.values()])
    query_ids = list(collection.queries)
    query_vectors = embedder.embed_texts([collection.queries[q] for q in query_ids])
    backend = make_backend(es_url, es_prefix)
    docs = build_documents(collection, doc_vectors, embedder.model_name)
    for start in range(0, len(docs), 2000):
        report = backend.index_documents(docs[start : start + 2000])
        assert report.failed == 0, report.errors[:3]
    assert backend.count(filters=SearchFilters()) == len(docs)
    ids = list(collection.corpus)
    matrix = np.asarray(doc_vectors, dtype=np.float32)
    same = 0
    for i, _qid in enumerate(query_ids):
        exact = [ids[j] for j in np.argsort(-(matrix @ query_vectors[i]), kind="stable")[:10]]
        hits = backend.vector_search(query_vectors[i].tolist(), filters=SearchFilters(), limit=10)
        same += [h.doc_id for h in hits] == exact
    agreement = same / len(query_ids)
    assert agreement >= DENSE_AGREEMENT, f"dense top-10 equal to exact search for {agreement:.1%} of queries"
