"""Search latency of the embedded backend at 10k / 100k / 1M records, with peers in the same run.

The corpus replicates SciFact abstracts (../shared/data/scifact) under new ids with perturbed
vectors and random filter fields; queries are SciFact claims. For each size it reports index
build time and size on disk, and p50/p95/p99 in ms for bm25, dense, hybrid and hybrid with
filters (excluding query embedding), hybrid including query embedding, the query embedding
alone, and peers: bm25s query time and numpy brute-force dense search on the same corpus. Above
SEARCH_ANN_THRESHOLD vectors the backend searches an HNSW index; its recall@10 against exact
search is reported.

    .venv/bin/python bench/search_latency.py --sizes 10000,100000 [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import REPO, load_scifact, percentiles, setup_django

setup_django()

from search import ranking  # noqa: E402
from search.backends import embedded_ann  # noqa: E402
from search.backends.base import SearchFilters  # noqa: E402
from search.backends.embedded import EmbeddedBackend  # noqa: E402
from search.documents import IndexDocument  # noqa: E402
from search.embeddings import document_text, get_embedder  # noqa: E402
from search.query import parse_request  # noqa: E402
from search.services import RetrievalSettings, retrieve  # noqa: E402
from search.types import SearchRequest  # noqa: E402

LEVELS = ("systematic_review", "rct", "cohort", "case_control", "narrative_review", "unknown")
TYPES = ("Journal Article", "Randomized Controlled Trial", "Review", "Systematic Review")
FILTERS = SearchFilters(year_from=2010, year_to=2025, evidence_levels=("rct", "systematic_review"))


def timed(fn, items) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build_corpus(tmp: Path, size: int, base: list[tuple[str, str]], base_vectors: np.ndarray, noise: float) -> float:
    """Index ``size`` replicated records with perturbed vectors under ``tmp``; return seconds.

    Loaded without the approximate index: it is built once at the end, as rebuild_index does."""
    rng = np.random.default_rng(size)
    model = get_embedder().model_name
    backend = EmbeddedBackend("bench", path=str(tmp), ann_threshold=10**12)
    t0 = time.perf_counter()
    batch = 5000
    for start in range(0, size, batch):
        n = min(batch, size - start)
        src = (np.arange(start, start + n)) % len(base)
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
        backend.index_documents(docs)
    return time.perf_counter() - t0


def bench_size(
    size: int, base: list[tuple[str, str]], base_vectors: np.ndarray, queries: list[str], qvecs: np.ndarray, args
) -> dict:  # type: ignore[no-untyped-def]
    row: dict = {"size": size}
    if args.reuse:
        # Measure again on an index kept by an earlier --keep run of the same size and data.
        tmp = Path(args.reuse)
        row["reused"] = str(tmp)
    else:
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-{size}-", dir=args.tmp))
        row["build_s"] = build_corpus(tmp, size, base, base_vectors, args.noise)
    backend = EmbeddedBackend("bench", path=str(tmp), ann_threshold=args.ann_threshold)
    t0 = time.perf_counter()
    row["ann"] = backend.refresh_vector_index()
    row["ann_build_s"] = time.perf_counter() - t0
    row["ann"] = row["ann"] or (tmp / "generations" / str(backend.live_generation()) / "ann.usearch").exists()
    row["size_mb"] = dir_size(tmp) / 1e6
    t0 = time.perf_counter()
    backend.vector_search(qvecs[0], filters=SearchFilters(), limit=10)
    row["reader_open_s"] = time.perf_counter() - t0
    config = RetrievalSettings.from_settings()
    parsed = [parse_request(SearchRequest(text=q)) for q in queries]
    filtered = [parse_request(SearchRequest(text=q, filters=FILTERS)) for q in queries]
    meta = {}  # rank() needs metadata; the portal loads it from the database, here from the corpus
    for i in range(size):
        meta[f"b:{i}"] = ranking.RankMeta(LEVELS[i % len(LEVELS)], 1990 + i % 36)
    idx = list(range(len(queries)))

    def hybrid(i: int, p=parsed) -> None:  # type: ignore[no-untyped-def]
        fused = retrieve(p[i], backend=backend, config=config, mode="hybrid", vector=qvecs[i])
        ranking.rank(fused, meta, current_year=2026)

    embedder = get_embedder()
    for i in idx:  # one untimed pass: page cache and readers warm, as in a running portal
        hybrid(i)
        hybrid(i, filtered)
    row["bm25"] = percentiles(timed(lambda i: retrieve(parsed[i], backend=backend, config=config, mode="bm25"), idx))
    row["dense"] = percentiles(
        timed(lambda i: retrieve(parsed[i], backend=backend, config=config, mode="dense", vector=qvecs[i]), idx)
    )
    row["hybrid"] = percentiles(timed(hybrid, idx))
    row["hybrid_filters"] = percentiles(timed(lambda i: hybrid(i, filtered), idx))
    row["query_embedding"] = percentiles(timed(lambda i: embedder._embed_query(queries[i]), idx))
    row["hybrid_with_embedding"] = percentiles(timed(lambda i: (embedder._embed_query(queries[i]), hybrid(i)), idx))
    if row["ann"]:
        snap = backend._view()[0]  # type: ignore[index]
        mask = snap.present & snap.has_vector
        hits = 0
        for i in idx:
            exact_rows, _ = embedded_ann.exact(snap.vectors, qvecs[i], mask, 10)
            ann_rows = [
                backend._view()[0].row_of[h.doc_id]
                for h in backend.vector_search(qvecs[i], filters=SearchFilters(), limit=10)
            ]  # type: ignore[index]
            hits += len(set(exact_rows.tolist()) & set(ann_rows))
        row["ann_recall_at_10"] = hits / (10 * len(idx))
    # Peers on the same corpus.
    snap = backend._view()[0]  # type: ignore[index]
    matrix = np.ascontiguousarray(snap.vectors[:size])  # in memory, as a numpy user would hold it

    def numpy_dense(i: int) -> None:
        scores = matrix @ qvecs[i]
        np.argpartition(-scores, 200)[:200]

    row["peer_numpy_dense"] = percentiles(timed(numpy_dense, idx))
    if not args.no_bm25s:
        import bm25s
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
        t0 = time.perf_counter()
        tokens = bm25s.tokenize(
            [f"{base[i % len(base)][0]} {base[i % len(base)][1]}" for i in range(size)],
            stopwords="en",
            stemmer=stemmer,
            show_progress=False,
        )
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        row["peer_bm25s_build_s"] = time.perf_counter() - t0
        qtok = [bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False) for q in queries]
        row["peer_bm25s"] = percentiles(
            timed(lambda i: retriever.retrieve(qtok[i], k=200, show_progress=False, n_threads=1), idx)
        )
        del retriever, tokens
    if args.keep or args.reuse:
        row["index_dir"] = str(tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return row


def print_table(rows: list[dict]) -> None:  # type: ignore[type-arg]
    cols = [
        "bm25",
        "dense",
        "hybrid",
        "hybrid_filters",
        "query_embedding",
        "hybrid_with_embedding",
        "peer_bm25s",
        "peer_numpy_dense",
    ]
    print(f"{'size':>9} {'measure':<24}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for r in rows:
        for c in cols:
            if c in r:
                p = r[c]
                print(f"{r['size']:>9} {c:<24}{p['p50']:>9.2f}{p['p95']:>9.2f}{p['p99']:>9.2f}")
        built = f"build {r['build_s']:.1f} s" if "build_s" in r else f"reused {r['reused']}"
        extra = f"{built}, {r['size_mb']:.0f} MB on disk, reader open {r['reader_open_s']:.1f} s"
        if r.get("ann"):
            extra += f", HNSW build {r['ann_build_s']:.1f} s"
        if "peer_bm25s_build_s" in r:
            extra += f", bm25s build {r['peer_bm25s_build_s']:.1f} s"
        if r.get("ann"):
            extra += f", HNSW recall@10 vs exact {r['ann_recall_at_10']:.3f}"
        print(f"{r['size']:>9} {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--base-docs", type=int, default=10_000, help="SciFact docs to replicate (embedded once, cached)"
    )
    parser.add_argument("--noise", type=float, default=0.02, help="std-dev of the vector perturbation")
    parser.add_argument("--ann-threshold", type=int, default=embedded_ann.DEFAULT_THRESHOLD)
    parser.add_argument("--tmp", default=None, help="folder for the temporary indexes")
    parser.add_argument("--no-bm25s", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the index folders (printed)")
    parser.add_argument("--reuse", help="index folder kept by --keep (one size): measure without rebuilding")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base, queries = load_scifact(args.data, args.base_docs)
    queries = queries[: args.queries]
    embedder = get_embedder()
    base_vectors = embedder.embed_texts([document_text(t, x) for t, x in base])
    qvecs = embedder.embed_texts(queries)
    rows = [bench_size(int(s), base, base_vectors, queries, qvecs, args) for s in args.sizes.split(",") if s]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
