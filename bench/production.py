"""The production shape beside the embedded default, on the same records in the same run.

1. **Load**: N records replicated from the real PubMed XML files (``--records``, default 100,000)
   parsed and upserted (``load_pubmed``'s path, hand-off off) into SQLite and into PostgreSQL (a
   throwaway cluster, scripts/pg_cluster.sh), each in a fresh child process: records/s, the
   ratio PostgreSQL/SQLite (target >= 0.80), the database size per million records, and the
   loader's resident memory sampled after every batch (flat = last quarter within 20% of the
   first quarter).
2. **Search**: the same N documents with vectors (SciFact abstracts replicated with perturbed
   vectors, as bench/elastic_bench.py builds them) in the embedded backend and in Elasticsearch;
   hybrid retrieval (the portal's ``retrieve``, fusion included, query vectors precomputed; the
   Elasticsearch generation merged into one segment first, as a rebuild's switch does)
   from 8 concurrent clients: p50/p95 per backend and the ratio (target ES p95 <= 2x embedded),
   the vector recall@k and @10 of each backend against exact search over the same vectors, the
   index sizes. ``--knn-factors 10,3`` measures Elasticsearch once per kNN candidate factor.

    .venv/bin/python bench/production.py [--records 100000] [--clients 8] [--es-url URL]
        [--knn-factors F,F...] [--vector-index hnsw|int8_hnsw] [--es-heap 1g] [--json]

Without --es-url it starts the test node (tests/es_node). Results: docs/deployment.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import load_scifact, percentiles, write_scale_file  # noqa: E402

SECRET = "bench-only-secret-key-0123456789-0123456789-0123456789"


# --- load (child process per database) ---------------------------------------------------------


def load_child(path: Path, workdir: Path, database_url: str) -> dict[str, Any]:
    """Parse and upsert ``path`` into ``database_url`` in this process; return rate, size, memory."""
    import psutil

    os.environ.update(
        EVIDENCE_DATA_DIR=str(workdir),
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET,
        DJANGO_SETTINGS_MODULE="evidence_portal.settings",
        INGEST_HANDOFF_STAGES="",
    )
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    from ingest.services import load_pubmed_paths

    process = psutil.Process()
    rss: list[float] = []
    started = time.perf_counter()
    counts = load_pubmed_paths(
        paths=[path],
        batch_size=500,
        on_changed=lambda ids: rss.append(process.memory_info().rss / 2**20),
        supersede_across_files=False,
    )
    seconds = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('records_evidencerecord')")
            size = int(cursor.fetchone()[0])
    else:
        connection.close()
        size = Path(connection.settings_dict["NAME"]).stat().st_size
    quarter = max(len(rss) // 4, 1)
    first, last = sum(rss[:quarter]) / quarter, sum(rss[-quarter:]) / quarter
    return {
        "database": connection.vendor,
        "records": counts.new,
        "seconds": seconds,
        "records_per_s": counts.new / seconds,
        "bytes": size,
        "gb_per_million": size / counts.new * 1e6 / 1e9,
        "rss_first_quarter_mb": first,
        "rss_last_quarter_mb": last,
        "rss_flat": last <= first * 1.2,
    }


def run_load(database_url: str, path: Path, workdir: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-load",
            str(path),
            "--workdir",
            str(workdir),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"load into {database_url.split(':')[0]} failed:\n{out.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    progress(row)
    return row


def measure_loads(records: int, data: Path, tmp: Path) -> list[dict[str, Any]]:
    source = tmp / "replicated.xml.gz"
    write_scale_file(data, source, records)
    rows = [run_load(f"sqlite:///{tmp / 'sqlite' / 'bench.sqlite3'}", source, _folder(tmp / "sqlite"))]
    cluster = tmp / "pg"
    line = subprocess.run(
        ["bash", str(REPO / "scripts" / "pg_cluster.sh"), "start", str(cluster)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        rows.append(run_load(line.split("=", 1)[1], source, _folder(tmp / "postgresql")))
    finally:
        subprocess.run(["bash", str(REPO / "scripts" / "pg_cluster.sh"), "stop", str(cluster)], check=False)
    return rows


def progress(row: dict[str, Any]) -> None:
    """Print one measured row to stderr as soon as it exists: a long run that fails later keeps it."""
    print(f"[{time.strftime('%H:%M:%S')}] {json.dumps(row)}", file=sys.stderr, flush=True)


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- search under concurrent clients -----------------------------------------------------------


def concurrent_hybrid(backend: Any, parsed: list[Any], vectors: Any, clients: int, rounds: int) -> dict[str, float]:
    """Return p50/p95 (ms) of hybrid retrieval with ``clients`` threads each running every query."""
    from search.services import RetrievalSettings, retrieve

    config = RetrievalSettings.from_settings()
    # Warm-up, one pass over every query: readers, index pages, HNSW graph, the JVM's compiled
    # code, the connection pool. With 5 queries only, the first setting measured on a freshly
    # merged Elasticsearch index came out ~50 % slower than the same setting measured again.
    for i, query in enumerate(parsed):
        retrieve(query, backend=backend, config=config, mode="hybrid", vector=vectors[i])
    times: list[float] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        mine = []
        for r in range(rounds):
            for j in range(len(parsed)):
                i = (j + offset + r) % len(parsed)
                t0 = time.perf_counter()
                retrieve(parsed[i], backend=backend, config=config, mode="hybrid", vector=vectors[i])
                mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client, args=(k * 7,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = percentiles(times)
    return {"p50": result["p50"], "p95": result["p95"], "queries": len(times)}


def vector_recall(backend: Any, vectors: Any, corpus_vectors: Any, k: int) -> dict[str, float]:
    """Return the backend's vector recall@k and recall@10 against exact search over ``corpus_vectors``
    (row i is document ``b:i``), averaged over the queries."""
    import numpy as np

    from search.backends.base import SearchFilters

    at_k, at_10 = [], []
    for vector in vectors:
        exact = np.argsort(-(corpus_vectors @ vector), kind="stable")[:k]
        found = [hit.doc_id for hit in backend.vector_search(vector, filters=SearchFilters(), limit=k)]
        truth = [f"b:{row}" for row in exact]
        at_k.append(len(set(found) & set(truth)) / k)
        at_10.append(len(set(found[:10]) & set(truth[:10])) / 10)
    return {"recall_at_k": float(np.mean(at_k)), "recall_at_10": float(np.mean(at_10))}


def measure_search(records: int, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    import numpy as np

    from bench.common import setup_django

    os.environ.setdefault("EVIDENCE_DATA_DIR", str(_folder(tmp / "search-state")))
    setup_django()
    from bench.elastic_bench import corpus_batches
    from search.backends.base import SearchFilters
    from search.backends.elastic import ElasticsearchBackend
    from search.backends.elastic_queries import DEFAULT_CANDIDATE_FACTOR
    from search.backends.embedded import EmbeddedBackend
    from search.embeddings import document_text, get_embedder
    from search.query import parse_request
    from search.services import RetrievalSettings
    from search.types import SearchRequest

    config = RetrievalSettings.from_settings()
    base, queries = load_scifact(args.scifact, args.base_docs)
    embedder = get_embedder()
    base_vectors = embedder.embed_texts([document_text(t, x) for t, x in base])
    queries = queries[: args.queries]
    vectors = embedder.embed_texts(queries)
    parsed = [parse_request(SearchRequest(text=q)) for q in queries]
    node = None
    url = args.es_url
    if not url:
        from tests.elastic.node import NodeProcess

        node = NodeProcess(heap=args.es_heap)
        url = node.start()
    rows = []
    try:
        for name in ("embedded", "elasticsearch"):
            if name == "embedded":
                path = _folder(tmp / "embedded-index")
                backend: Any = EmbeddedBackend("bench", path=str(path))
            else:
                prefix = f"bench-{uuid.uuid4().hex[:8]}"
                backend = ElasticsearchBackend(
                    "bench", url=url, index_prefix=prefix, vector_index_type=args.vector_index
                )
            started = time.perf_counter()
            corpus_vectors = []
            for docs, batch_vectors in corpus_batches(records, base, base_vectors, 0.02, embedder.model_name):
                report = backend.index_documents(docs)
                if report.failed:
                    raise SystemExit(f"{name}: {report.failed} documents failed")
                corpus_vectors.append(batch_vectors)
            load_s = time.perf_counter() - started
            merge_s = 0.0
            if name == "elasticsearch":  # what a rebuild does before its generation goes live
                started = time.perf_counter()
                backend.switch_generation(backend.live_generation())
                merge_s = time.perf_counter() - started
            progress({"backend": name, "indexed": records, "load_s": load_s, "merge_s": merge_s})
            assert backend.count(filters=SearchFilters()) == records
            stacked = np.vstack(corpus_vectors)
            factors = [None] if name == "embedded" else args.knn_factors or [DEFAULT_CANDIDATE_FACTOR]
            for factor in factors:
                if factor is not None:
                    backend.knn_candidate_factor = factor
                latency = concurrent_hybrid(backend, parsed, vectors, args.clients, args.rounds)
                recall = vector_recall(backend, vectors, stacked, config.candidates)
                rows.append(
                    {
                        "backend": name,
                        "records": records,
                        "knn_candidate_factor": factor,
                        "load_docs_per_s": records / load_s,
                        "merge_s": merge_s,
                        "clients": args.clients,
                        **latency,
                        **recall,
                    }
                )
                progress(rows[-1])
            if name == "embedded":
                size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            else:
                stats = backend.client.indices.stats(index=f"{prefix}-g*", metric="store")
                size = int(stats["_all"]["primaries"]["store"]["size_in_bytes"])
                backend.client.options(ignore_status=404).indices.delete(index=f"{prefix}-g*")
            for row in rows:
                if row["backend"] == name:
                    row.update(index_bytes=size, index_gb_per_million=size / records * 1e6 / 1e9)
    finally:
        if node is not None:
            node.cleanup()
    return rows


def measure_embedding(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Return documents embedded per second on ONE CPU core (one BLAS/ONNX thread), the default embedder."""
    from bench.common import setup_django

    os.environ.setdefault("EVIDENCE_DATA_DIR", str(_folder(tmp / "search-state")))
    os.environ["EMBEDDING_CACHE_DIR"] = str(_folder(tmp / "no-cache"))  # never a cache hit
    setup_django()
    from threadpoolctl import threadpool_limits

    from search.embeddings import document_text, get_embedder

    docs, _ = load_scifact(args.scifact, args.embed_texts + 32)
    texts = [document_text(t, x) for t, x in docs]
    import torch

    torch.set_num_threads(1)  # the embedder sizes its ONNX session from torch's thread count
    embedder = get_embedder()
    with threadpool_limits(limits=1):
        embedder.embed_texts(texts[:32])  # load and warm up
        started = time.perf_counter()
        embedder.embed_texts(texts[32:])
        seconds = time.perf_counter() - started
    return {"texts": len(texts) - 32, "seconds": seconds, "per_core_per_s": (len(texts) - 32) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="records in both the load and the search corpus")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--scifact", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--base-docs", type=int, default=2000, help="SciFact docs replicated for the search corpus")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="times each client runs every query")
    parser.add_argument("--es-url", default=os.environ.get("ELASTICSEARCH_URL"))
    parser.add_argument("--es-heap", default="1g", help="heap of the test node started without --es-url")
    parser.add_argument("--vector-index", default="hnsw", choices=["hnsw", "int8_hnsw"])
    parser.add_argument(
        "--knn-factors",
        type=lambda text: [float(x) for x in text.split(",")],
        default=None,
        help="Elasticsearch kNN candidates per neighbour to compare, e.g. 10,5,2 (each: latency and recall;"
        " default: the backend's own factor)",
    )
    parser.add_argument("--phases", default="load,search,embed")
    parser.add_argument("--embed-texts", type=int, default=256, help="texts of the one-core embedding phase")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child-load", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load:
        print(json.dumps(load_child(Path(args.child_load), Path(args.workdir), args.database_url)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-production-"))
    tmp.chmod(0o755)
    result: dict[str, Any] = {"records": args.records}
    try:
        if "load" in args.phases:
            result["load"] = measure_loads(args.records, args.data, tmp)
            sqlite, postgres = result["load"]
            result["load_ratio_pg_to_sqlite"] = postgres["records_per_s"] / sqlite["records_per_s"]
        if "search" in args.phases:
            result["search"] = measure_search(args.records, args, tmp)
            embedded, *elastic = result["search"]
            for row in elastic:
                row["p95_ratio_to_embedded"] = row["p95"] / embedded["p95"]
        if "embed" in args.phases:
            result["embed"] = measure_embedding(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"records: {args.records:,}")
    for row in result.get("load", []):
        print(
            f"load {row['database']:<10} {row['records_per_s']:>8.0f} records/s  {row['gb_per_million']:.2f} GB per"
            f" million  loader RSS {row['rss_first_quarter_mb']:.0f} -> {row['rss_last_quarter_mb']:.0f} MB"
            f" ({'flat' if row['rss_flat'] else 'GROWING'})"
        )
    if "load_ratio_pg_to_sqlite" in result:
        print(f"parse+upsert PostgreSQL / SQLite: {result['load_ratio_pg_to_sqlite']:.2f} (target >= 0.80)")
    for row in result.get("search", []):
        factor = "" if row["knn_candidate_factor"] is None else f" knn x{row['knn_candidate_factor']:g}"
        ratio = f"  p95 / embedded {row['p95_ratio_to_embedded']:.2f} (target <= 2)" if factor else ""
        print(
            f"search {row['backend'] + factor:<24} hybrid p50 {row['p50']:.1f} ms  p95 {row['p95']:.1f} ms"
            f" ({row['clients']} clients, {row['queries']} queries){ratio}  vector recall@k"
            f" {row['recall_at_k']:.3f} @10 {row['recall_at_10']:.3f}  load {row['load_docs_per_s']:.0f} docs/s"
            f"  index {row['index_gb_per_million']:.2f} GB per million"
        )
    if "embed" in result:
        print(f"embedding on one CPU core: {result['embed']['per_core_per_s']:.1f} documents/s")


if __name__ == "__main__":
    main()
