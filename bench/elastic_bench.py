"""Elasticsearch beside the embedded backend in the same run: bulk docs/s and query p50/p95.

The corpus replicates SciFact abstracts (../shared/data/scifact) under new ids with perturbed
vectors and varied filter fields (as bench/search_latency.py does); queries are SciFact claims
with their vectors precomputed (query embedding is not timed). For each size and backend it
loads the corpus (bulk docs/s, vectors included), then times bm25, dense and hybrid retrieval
through ``search.services.retrieve`` (the portal's code path, fusion included), and reports
dense recall@10 against exact numpy search. The node's heap and index settings are printed
beside the figures. Without --es-url it starts the test node (tests/es_node) and stops it.

    .venv/bin/python bench/elastic_bench.py --sizes 20000,100000 [--es-url URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import REPO, load_scifact, percentiles, setup_django

setup_django()

from elasticsearch import Elasticsearch  # noqa: E402

from search.backends.base import SearchBackend, SearchFilters  # noqa: E402
from search.backends.elastic import ElasticsearchBackend  # noqa: E402
from search.backends.embedded import EmbeddedBackend  # noqa: E402
from search.documents import IndexDocument  # noqa: E402
from search.embeddings import document_text, get_embedder  # noqa: E402
from search.query import parse_request  # noqa: E402
from search.services import RetrievalSettings, retrieve  # noqa: E402
from search.types import SearchRequest  # noqa: E402

LEVELS = ("systematic_review", "rct", "cohort", "case_control", "narrative_review", "unknown")
TYPES = ("Journal Article", "Randomized Controlled Trial", "Review", "Systematic Review")
MODES = ("bm25", "dense", "hybrid")
BATCH = 5000


def corpus_batches(size: int, base: list[tuple[str, str]], base_vectors: np.ndarray, noise: float, model: str):  # type: ignore[no-untyped-def]
    """Yield (documents, vectors) batches; the same seed gives both backends the same corpus."""
    rng = np.random.default_rng(size)
    for start in range(0, size, BATCH):
        n = min(BATCH, size - start)
        src = np.arange(start, start + n) % len(base)
        vecs = base_vectors[src] + rng.normal(scale=noise, size=(n, base_vectors.shape[1])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        docs = [
            IndexDocument(
                doc_id=f"b:{start + j}",
                title=base[s][0],
                abstract=base[s][1],
                evidence_level=LEVELS[(start + j) % len(LEVELS)],
                publication_year=1990 + (start + j) % 36,
                publication_types=(TYPES[(start + j) % len(TYPES)],),
                free_full_text=(start + j) % 3 == 0,
                language="eng",
                content_hash=str(start + j),
                vector=tuple(vecs[j].tolist()),
                vector_model=model,
            )
            for j, s in enumerate(src)
        ]
        yield docs, vecs


def bench_backend(
    name: str, backend: SearchBackend, size: int, data: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    row: dict[str, Any] = {"size": size, "backend": name}
    model = get_embedder().model_name
    matrix = np.empty((size, data["base_vectors"].shape[1]), dtype=np.float32)
    load_s = 0.0
    for docs, vecs in corpus_batches(size, data["base"], data["base_vectors"], args.noise, model):
        start = int(docs[0].doc_id.split(":")[1])
        matrix[start : start + len(docs)] = vecs
        t0 = time.perf_counter()
        report = backend.index_documents(docs)
        load_s += time.perf_counter() - t0
        if report.failed:
            raise SystemExit(f"{name}: {report.failed} documents failed: {report.errors[:3]}")
    row["load_s"] = load_s
    row["docs_per_s"] = size / load_s
    assert backend.count(filters=SearchFilters()) == size, "count after load disagrees"
    config = RetrievalSettings.from_settings()
    parsed = [parse_request(SearchRequest(text=q)) for q in data["queries"]]
    qvecs = data["qvecs"]
    backend.vector_search(qvecs[0], filters=SearchFilters(), limit=10)  # warm-up (reader, HNSW)
    for mode in MODES:
        times = []
        for i, p in enumerate(parsed):
            t0 = time.perf_counter()
            retrieve(p, backend=backend, config=config, mode=mode, vector=qvecs[i])
            times.append((time.perf_counter() - t0) * 1000)
        row[mode] = percentiles(times)
    hits = 0
    for q in qvecs:
        exact = set(np.argsort(-(matrix @ q))[:10].tolist())
        found = {int(h.doc_id.split(":")[1]) for h in backend.vector_search(q, filters=SearchFilters(), limit=10)}
        hits += len(exact & found)
    row["dense_recall_at_10"] = hits / (10 * len(qvecs))
    return row


def node_description(client: Elasticsearch, backend: ElasticsearchBackend) -> dict[str, Any]:
    stats = client.nodes.stats(metric="jvm")
    node = next(iter(stats["nodes"].values()))
    info = client.info()
    return {
        "version": info["version"]["number"],
        "heap_max_mb": round(node["jvm"]["mem"]["heap_max_in_bytes"] / 2**20),
        "shards": backend.shards,
        "replicas": backend.replicas,
        "vector_index": backend.vector_index_type,
        "bulk_chunk": backend.bulk_chunk,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--base-docs", type=int, default=10_000, help="SciFact docs to replicate (embedded once, cached)"
    )
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL"), help="default: start the test node")
    parser.add_argument("--vector-index", default="hnsw", choices=["hnsw", "int8_hnsw"])
    parser.add_argument("--backends", default="embedded,elasticsearch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base, queries = load_scifact(args.data, args.base_docs)
    embedder = get_embedder()
    data = {
        "base": base,
        "base_vectors": embedder.embed_texts([document_text(t, x) for t, x in base]),
        "queries": queries[: args.queries],
        "qvecs": embedder.embed_texts(queries[: args.queries]),
    }
    node = None
    url = args.es_url
    if not url and "elasticsearch" in args.backends:
        from tests.elastic.node import NodeProcess

        node = NodeProcess()
        url = node.start()
    rows: list[dict[str, Any]] = []
    described: dict[str, Any] = {}
    try:
        for size in [int(s) for s in args.sizes.split(",") if s]:
            for name in args.backends.split(","):
                if name == "embedded":
                    tmp = Path(tempfile.mkdtemp(prefix=f"bench-es-{size}-"))
                    try:
                        rows.append(bench_backend(name, EmbeddedBackend("bench", path=str(tmp)), size, data, args))
                    finally:
                        shutil.rmtree(tmp, ignore_errors=True)
                else:
                    prefix = f"bench-{uuid.uuid4().hex[:8]}"
                    es = ElasticsearchBackend(
                        "bench", url=url, index_prefix=prefix, vector_index_type=args.vector_index
                    )
                    try:
                        rows.append(bench_backend(name, es, size, data, args))
                        described = node_description(es.client, es)
                    finally:
                        es.client.options(ignore_status=404).indices.delete(index=f"{prefix}-g*")
                        es.client.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-template")
    finally:
        if node is not None:
            node.cleanup()
    if args.json:
        print(json.dumps({"node": described, "rows": rows}, indent=1))
        return
    print(f"{'size':>8} {'backend':<14}{'docs/s':>9}{'measure':>9}{'p50 ms':>9}{'p95 ms':>9}")
    for r in rows:
        for mode in MODES:
            p = r[mode]
            print(f"{r['size']:>8} {r['backend']:<14}{r['docs_per_s']:>9.0f}{mode:>9}{p['p50']:>9.2f}{p['p95']:>9.2f}")
        recall = r["dense_recall_at_10"]
        print(f"{r['size']:>8} {r['backend']:<14} load {r['load_s']:.1f} s, dense recall@10 vs exact {recall:.3f}")
    if described:
        print("node: " + ", ".join(f"{k}={v}" for k, v in described.items()))


if __name__ == "__main__":
    main()
