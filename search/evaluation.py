"""Relevance evaluation on a BEIR-format collection through the real search pipeline.

The collection is loaded into a temporary index generation (same document builder, parser,
embedding code, fusion and ranking as the portal) and scored with nDCG@10, Recall@100 and
MRR@10. Peers measured in the same run: ``bm25s`` (English stemming + stop words) and exact
numpy dense search with the same model.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from search import ranking
from search.backends.base import SearchBackend
from search.backends.embedded import EmbeddedBackend
from search.documents import IndexDocument
from search.embeddings import document_text, get_embedder
from search.query import parse_request
from search.services import RetrievalSettings, retrieve
from search.types import SearchRequest

MODES = ("bm25", "dense", "hybrid")
# Evaluation only: BEIR corpora carry no evidence grades, so a crude design guess from the text
# gives the evidence-aware order something to reorder (for the "costs almost nothing" check).
_DESIGNS = (
    ("systematic_review", re.compile(r"meta-analys|systematic review", re.I)),
    ("rct", re.compile(r"randomi[sz]ed|placebo-controlled", re.I)),
    ("cohort", re.compile(r"\bcohort\b|prospective stud|longitudinal", re.I)),
    ("case_control", re.compile(r"case-control|case control", re.I)),
    ("cross_sectional", re.compile(r"cross-sectional|survey", re.I)),
    ("preclinical", re.compile(r"\bmice\b|\bmouse\b|\brats?\b|in vitro|cell line", re.I)),
)


class EvaluationError(Exception):
    """The collection is missing or malformed."""


@dataclass
class Collection:
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass
class Scores:
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    queries: int
    median_ms: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


@dataclass
class Evaluation:
    scores: dict[str, Scores] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


def _open(path: Path) -> Iterable[str]:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            yield from fh
    else:
        with path.open(encoding="utf-8") as fh:
            yield from fh


def load_beir(directory: Path, *, split: str = "train") -> Collection:
    """Return the corpus, queries and qrels of a BEIR folder. Raises EvaluationError."""
    corpus_path = next((directory / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (directory / n).exists()), None)
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if corpus_path is None or not (directory / "queries.jsonl").exists() or not qrels_path.exists():
        raise EvaluationError(f"{directory} needs corpus.jsonl[.gz], queries.jsonl and qrels/{split}.tsv")
    try:
        corpus = {}
        for line in _open(corpus_path):
            if line.strip():
                doc = json.loads(line)
                corpus[str(doc["_id"])] = (doc.get("title") or "", doc.get("text") or "")
        queries = {}
        for line in _open(directory / "queries.jsonl"):
            if line.strip():
                q = json.loads(line)
                queries[str(q["_id"])] = q["text"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise EvaluationError(f"malformed BEIR file in {directory}: {exc}") from exc
    qrels: dict[str, dict[str, int]] = {}
    for i, line in enumerate(qrels_path.read_text().splitlines()):
        parts = line.split("\t")
        if i == 0 and not parts[-1].strip().lstrip("-").isdigit():
            continue  # header
        if len(parts) >= 3 and parts[0] in queries:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    if not qrels:
        raise EvaluationError(f"no judged queries in {qrels_path}")
    return Collection(corpus=corpus, queries={q: queries[q] for q in qrels}, qrels=qrels)


def ndcg_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    dcg = sum((2 ** judged.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(judged.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 100) -> float:
    relevant = {d for d, g in judged.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_runs(
    runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], times: Sequence[float]
) -> Scores:
    ids = list(qrels)
    return Scores(
        ndcg_at_10=float(np.mean([ndcg_at(runs.get(q, []), qrels[q]) for q in ids])),
        recall_at_100=float(np.mean([recall_at(runs.get(q, []), qrels[q]) for q in ids])),
        mrr_at_10=float(np.mean([mrr_at(runs.get(q, []), qrels[q]) for q in ids])),
        queries=len(ids),
        median_ms=float(np.median(times)) if times else 0.0,
    )


def guess_level(title: str, text: str) -> str:
    for level, pattern in _DESIGNS:
        if pattern.search(title) or pattern.search(text[:600]):
            return level
    return "unknown"


def build_documents(collection: Collection, vectors: np.ndarray, model: str) -> list[IndexDocument]:
    return [
        IndexDocument(
            doc_id=doc_id,
            title=title,
            abstract=text,
            evidence_level=guess_level(title, text),
            content_hash=str(i),
            vector=tuple(vectors[i].tolist()),
            vector_model=model,
        )
        for i, (doc_id, (title, text)) in enumerate(collection.corpus.items())
    ]


def _bm25s_peer(collection: Collection, depth: int) -> tuple[dict[str, list[str]], list[float]]:
    import bm25s
    import Stemmer

    ids = list(collection.corpus)
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(
        [f"{t} {x}" for t, x in collection.corpus.values()], stopwords="en", stemmer=stemmer, show_progress=False
    )
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    runs, times = {}, []
    for qid, text in collection.queries.items():
        started = time.perf_counter()
        q = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        docs, _ = retriever.retrieve(q, k=min(depth, len(ids)), show_progress=False)
        times.append((time.perf_counter() - started) * 1000)
        runs[qid] = [ids[int(i)] for i in docs[0]]
    return runs, times


def evaluate(
    collection: Collection,
    *,
    modes: Sequence[str] = MODES,
    backend_factory: Callable[[], tuple[SearchBackend, Callable[[], None]]] | None = None,
    config: RetrievalSettings | None = None,
    peers: bool = True,
    backend_options: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> Evaluation:
    """Index the collection in a temporary generation and score each mode (and the peers)."""
    config = config or RetrievalSettings.from_settings()
    embedder = get_embedder()
    result = Evaluation()
    started = time.perf_counter()
    progress(f"embedding {len(collection.corpus)} documents (disk-cached)")
    doc_vectors = embedder.embed_texts([document_text(t, x) for t, x in collection.corpus.values()])
    query_ids = list(collection.queries)
    query_vectors = embedder.embed_texts([collection.queries[q] for q in query_ids])
    result.notes["embed_s"] = round(time.perf_counter() - started, 1)
    if backend_factory is None:
        tmp = Path(tempfile.mkdtemp(prefix="evaluate-"))
        options = {**(backend_options or {}), "path": str(tmp)}
        backend: SearchBackend = EmbeddedBackend("evaluation", **options)

        def cleanup() -> None:
            shutil.rmtree(tmp, ignore_errors=True)

    else:
        backend, cleanup = backend_factory()
    try:
        started = time.perf_counter()
        docs = build_documents(collection, doc_vectors, embedder.model_name)
        for start in range(0, len(docs), 2000):
            backend.index_documents(docs[start : start + 2000])
        result.notes["index_s"] = round(time.perf_counter() - started, 1)
        meta = {d.doc_id: ranking.RankMeta(evidence_level=d.evidence_level) for d in docs}
        depth = max(100, config.candidates)
        for mode in modes:
            runs: dict[str, list[str]] = {}
            evidence_runs: dict[str, list[str]] = {}
            times = []
            for i, qid in enumerate(query_ids):
                t0 = time.perf_counter()
                parsed = parse_request(SearchRequest(text=collection.queries[qid]))
                fused = retrieve(parsed, backend=backend, config=config, mode=mode, vector=query_vectors[i])
                ranked = ranking.rank(fused, meta, sort="relevance", current_year=2026)
                times.append((time.perf_counter() - t0) * 1000)
                runs[qid] = [r.doc_id for r in ranked]
                if mode == "hybrid":
                    by_evidence = ranking.rank(
                        fused,
                        meta,
                        sort="evidence",
                        evidence_weight=config.evidence_weight,
                        recency_weight=config.recency_weight,
                        current_year=2026,
                    )
                    evidence_runs[qid] = [r.doc_id for r in by_evidence]
            result.scores[mode] = score_runs(runs, collection.qrels, times)
            if evidence_runs:
                result.scores["hybrid_evidence_order"] = score_runs(evidence_runs, collection.qrels, times)
            progress(f"{mode}: {result.scores[mode].as_dict()}")
        if peers:
            peer_runs, peer_times = _bm25s_peer(collection, depth)
            result.scores["peer_bm25s"] = score_runs(peer_runs, collection.qrels, peer_times)
            matrix = np.asarray(doc_vectors, dtype=np.float32)
            ids = list(collection.corpus)
            numpy_runs, numpy_times = {}, []
            for i, qid in enumerate(query_ids):
                t0 = time.perf_counter()
                scores = matrix @ query_vectors[i]
                best = np.argsort(-scores)[:depth]
                numpy_times.append((time.perf_counter() - t0) * 1000)
                numpy_runs[qid] = [ids[j] for j in best]
            result.scores["peer_numpy_dense"] = score_runs(numpy_runs, collection.qrels, numpy_times)
    finally:
        cleanup()
    return result


def with_overrides(config: RetrievalSettings, **overrides: Any) -> RetrievalSettings:
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
