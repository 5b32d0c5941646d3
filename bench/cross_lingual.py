"""Chinese queries against English records: nDCG@10 of the Chinese query vs the same question in English.

Sets (both written for this project, judgements from the shared data):
- ``bench/data/scifact_claims_zh.tsv``: SciFact training claims translated into Chinese; the
  judgements are SciFact's (qrels/train.tsv); searched over the whole SciFact corpus.
- ``bench/data/clinical_questions.jsonl``: clinical questions in English and Chinese, each with
  the record that answers it (PubMed records of ../shared/data/pubmed and guideline
  recommendations); searched over those records loaded into a throwaway database. Questions
  answered "none" are left out here (they are for the bottom line and "nothing found").

Each question is searched three ways through the real pipeline (parse, BM25 + vectors, fusion,
relevance order): the English text, the Chinese text (translated by the term list), and the
Chinese text as it was before translation existed (raw vector search: the baseline).

    .venv/bin/python bench/cross_lingual.py [--scifact-only]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED_DATA, setup_django

setup_django()

from search import ranking  # noqa: E402
from search.backends.base import LexicalQuery, SearchFilters  # noqa: E402
from search.backends.embedded import EmbeddedBackend  # noqa: E402
from search.embeddings import document_text, embed_query, get_embedder  # noqa: E402
from search.evaluation import build_documents, load_beir, ndcg_at  # noqa: E402
from search.query import ParsedQuery, parse_request  # noqa: E402
from search.services import RetrievalSettings, retrieve  # noqa: E402
from search.types import SearchRequest  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def load_claims() -> dict[str, str]:
    claims = {}
    for line in (DATA / "scifact_claims_zh.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            qid, text = line.split("\t", 1)
            claims[qid] = text.strip()
    return claims


def ranked_ids(backend: EmbeddedBackend, config: RetrievalSettings, text: str, *, raw: bool = False) -> list[str]:
    """Return doc ids for ``text`` in relevance order (``raw``: vector search on the untranslated text)."""
    if raw:
        parsed = ParsedQuery(lexical=LexicalQuery(), filters=SearchFilters(), embed_text=text)
    else:
        parsed = parse_request(SearchRequest(text=text))
    vector = embed_query(parsed.embed_text) if parsed.embed_text else None
    fused = retrieve(parsed, backend=backend, config=config, mode="dense" if raw else "hybrid", vector=vector)
    meta = {c.doc_id: ranking.RankMeta(evidence_level="unknown") for c in fused}
    return [r.doc_id for r in ranking.rank(fused, meta, sort="relevance", current_year=2026)]


# Questions with no answer in SciFact (nothing relevant exists): everyday, off-topic searches.
OFF_TOPIC = (
    "best pizza dough recipe",
    "football world cup winners list",
    "how to fix a flat bicycle tyre",
    "stock market forecast next year",
    "train timetable from London to Paris",
    "learn to play guitar chords",
    "cheap flights to Tokyo",
    "how to train a puppy to sit",
    "wedding dress fashion trends",
    "repair a leaking kitchen tap",
    "electric car charging stations nearby",
    "history of the Roman empire",
    "best smartphone camera comparison",
    "knitting patterns for beginners",
    "tax return filing deadline",
    "how to grow tomatoes on a balcony",
    "chess opening strategies",
    "python programming tutorial",
    "mortgage interest rates comparison",
    "movie reviews this weekend",
    "今天天气怎么样",
    "附近有什么好吃的餐厅",
    "如何学习弹吉他",
    "明天去北京的火车票",
)


def similarity_floor(
    backend: EmbeddedBackend, config: RetrievalSettings, english: list[str], qrels: list[dict[str, int]]
) -> None:
    """Print the best vector cosine of answerable vs unanswerable queries and the floor they suggest."""
    answerable = []
    for text, judged in zip(english, qrels, strict=True):
        parsed = parse_request(SearchRequest(text=text))
        hits = backend.vector_search(embed_query(parsed.embed_text), filters=SearchFilters(), limit=10)
        if any(h.doc_id in judged for h in hits):
            answerable.append(hits[0].score)
    unrelated = []
    for text in OFF_TOPIC:
        parsed = parse_request(SearchRequest(text=text))
        hits = backend.vector_search(embed_query(parsed.embed_text or text), filters=SearchFilters(), limit=1)
        unrelated.append(hits[0].score)
    answerable.sort()
    unrelated.sort()
    print(
        f"best cosine, queries with a relevant record in their vector top 10 ({len(answerable)}):"
        f" min {answerable[0]:.3f}, p05 {answerable[len(answerable) // 20]:.3f},"
        f" median {statistics.median(answerable):.3f}"
    )
    print(
        f"best cosine, off-topic queries ({len(unrelated)}): median {statistics.median(unrelated):.3f},"
        f" max {unrelated[-1]:.3f}"
    )
    for floor in (0.30, 0.35, 0.40, 0.45, 0.50):
        kept = sum(a >= floor for a in answerable) / len(answerable)
        refused = sum(u < floor for u in unrelated) / len(unrelated)
        print(f"  floor {floor:.2f}: answerable kept {kept:.3f}, off-topic withheld {refused:.3f}")


def report(name: str, rows: list[tuple[float, float, float]]) -> None:
    english = statistics.fmean(r[0] for r in rows)
    chinese = statistics.fmean(r[1] for r in rows)
    raw = statistics.fmean(r[2] for r in rows)
    print(f"{name}: {len(rows)} questions")
    print(f"  nDCG@10 English {english:.3f} | Chinese (term list) {chinese:.3f} | Chinese untranslated {raw:.3f}")
    print(f"  ratio Chinese / English: {chinese / english:.3f} (target >= 0.8); untranslated: {raw / english:.3f}")


def scifact(config: RetrievalSettings, corpus_size: int) -> list[tuple[float, float, float]]:
    collection = load_beir(SHARED_DATA / "scifact", split="train")
    claims = load_claims()
    if corpus_size and corpus_size < len(collection.corpus):
        # Every judged document, then the corpus in file order up to ``corpus_size``: the same
        # documents for the English and the Chinese queries.
        judged = {d for q in collection.qrels.values() for d in q}
        keep = [d for d in collection.corpus if d in judged]
        keep += [d for d in collection.corpus if d not in judged][: max(corpus_size - len(keep), 0)]
        collection = replace(collection, corpus={d: collection.corpus[d] for d in keep})
    embedder = get_embedder()
    started = time.perf_counter()
    vectors = embedder.embed_texts([document_text(t, x) for t, x in collection.corpus.values()])
    print(f"scifact: embedded {len(collection.corpus)} documents in {time.perf_counter() - started:.0f} s")
    tmp = Path(tempfile.mkdtemp(prefix="crosslingual-"))
    try:
        backend = EmbeddedBackend("crosslingual", path=str(tmp))
        docs = build_documents(collection, vectors, embedder.model_name)
        for start in range(0, len(docs), 2000):
            backend.index_documents(docs[start : start + 2000])
        similarity_floor(
            backend, config, list(collection.queries.values()), [collection.qrels[q] for q in collection.queries]
        )
        rows = []
        for qid, chinese in claims.items():
            judged = collection.qrels[qid]
            rows.append(
                (
                    ndcg_at(ranked_ids(backend, config, collection.queries[qid]), judged),
                    ndcg_at(ranked_ids(backend, config, chinese), judged),
                    ndcg_at(ranked_ids(backend, config, chinese, raw=True), judged),
                )
            )
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scifact-only", action="store_true")
    parser.add_argument(
        "--corpus-size", type=int, default=0, help="index every judged document plus others up to this many (0: all)"
    )
    args = parser.parse_args()
    config = RetrievalSettings.from_settings()
    report("SciFact claims (translated, SciFact judgements)", scifact(config, args.corpus_size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
