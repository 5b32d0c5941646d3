"""The search entry points the portal and the API call.

``search_records`` runs the whole pipeline: parse, retrieve (BM25 and vectors, filters inside
both), fuse, rank with evidence in view, paginate, facets, highlight. Records are loaded with a
constant number of queries (the ranking columns of every candidate, the shown page's
records, one count of pending vectors).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.db import connection

from records.models import EvidenceRecord
from search import bottom_line, highlight, ranking
from search.backends import get_backend
from search.backends.base import Hit, LexicalQuery, SearchBackend, SearchFilters
from search.embeddings import EmbeddingError, embedder_for_space
from search.models import IndexEntry
from search.query import ParsedQuery, parse_request
from search.types import SORT_MODES, SearchPage, SearchRequest, SearchResult

logger = logging.getLogger(__name__)
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class RetrievalSettings:
    candidates: int
    fusion: str
    rrf_k: int
    lexical_weight: float
    evidence_weight: float
    recency_weight: float
    min_similarity: float = 0.0

    @classmethod
    def from_settings(cls) -> RetrievalSettings:
        return cls(
            candidates=int(settings.SEARCH_CANDIDATES),
            fusion=str(getattr(settings, "SEARCH_FUSION", "linear")),
            rrf_k=int(settings.SEARCH_RRF_K),
            lexical_weight=float(getattr(settings, "SEARCH_LEXICAL_WEIGHT", 0.55)),
            evidence_weight=float(settings.SEARCH_EVIDENCE_WEIGHT),
            recency_weight=float(settings.SEARCH_RECENCY_WEIGHT),
            min_similarity=float(getattr(settings, "SEARCH_MIN_VECTOR_SIMILARITY", 0.0)),
        )


def _query_vector(backend: SearchBackend, text: str) -> Sequence[float] | None:
    """Return the query embedding, or None when vectors cannot be used (lexical still works)."""
    if not text or backend.vector_space() is None:
        return None
    space = backend.vector_space()
    try:
        # The live generation records its model: after a re-embed, queries follow it.
        embedder = embedder_for_space(space)
    except EmbeddingError:
        logger.exception("embedding model unavailable: searching lexically only")
        return None
    if space is not None and (space[0], space[1]) != (embedder.model_name, embedder.dimension):
        logger.error("index vectors come from %s, the embedder is %s: vectors ignored", space, embedder.model_name)
        return None
    return cast(Sequence[float], embedder.embed_query(text))


def retrieve_hits(
    parsed: ParsedQuery,
    *,
    backend: SearchBackend,
    config: RetrievalSettings,
    mode: str = "hybrid",
    vector: Sequence[float] | None = None,
) -> tuple[list[ranking.FusedCandidate], list[Hit], list[Hit]]:
    """Return (fused candidates, BM25 hits, vector hits) for a parsed query (``mode``: bm25,
    dense or hybrid). ``vector`` overrides the query embedding (the evaluation passes
    precomputed ones)."""
    lexical: list[Hit] = []
    dense: list[Hit] = []
    if mode in {"bm25", "hybrid"} and not parsed.lexical.is_empty():
        lexical = backend.lexical_search(parsed.lexical, filters=parsed.filters, limit=config.candidates)
    if mode in {"dense", "hybrid"}:
        if vector is None:
            vector = _query_vector(backend, parsed.embed_text)
        if vector is not None:
            dense = backend.vector_search(vector, filters=parsed.filters, limit=config.candidates)
    fused = ranking.fuse(lexical, dense, method=config.fusion, rrf_k=config.rrf_k, lexical_weight=config.lexical_weight)
    return fused, lexical, dense


def retrieve(
    parsed: ParsedQuery,
    *,
    backend: SearchBackend,
    config: RetrievalSettings,
    mode: str = "hybrid",
    vector: Sequence[float] | None = None,
) -> list[ranking.FusedCandidate]:
    """Return fused candidates for a parsed query (``mode``: bm25, dense or hybrid)."""
    return retrieve_hits(parsed, backend=backend, config=config, mode=mode, vector=vector)[0]


def rank_meta_sql(count: int) -> str:
    """Return the statement ``_rank_meta`` runs for ``count`` ids (placeholders ``%s``).

    SQLite's planner prefers the unique uid index, which reads each wide row, so the covering
    index is named (without statistics it cannot tell it is cheaper). PostgreSQL has no such
    hint and needs none: with statistics it answers from the same index by an index-only scan
    (checked by tests/search/test_rank_meta_plan.py on both databases)."""
    table = connection.ops.quote_name(EvidenceRecord._meta.db_table)
    hint = " INDEXED BY record_rank_meta" if connection.vendor == "sqlite" else ""
    marks = ", ".join(["%s"] * count)
    return (
        f"SELECT uid, evidence_level, publication_year, retracted, evidence_strength FROM {table}{hint}"
        f" WHERE uid IN ({marks}) AND deleted_at IS NULL"
    )


def _rank_meta(doc_ids: Sequence[str]) -> dict[str, ranking.RankMeta]:
    """Return what ranking needs of each live candidate: five columns in one query.

    Plain SQL on purpose: through the ORM, building ~400 rows cost 8 ms per search at 100k
    records against 3 ms here (the whole records are loaded for the shown page only); the
    covering index ``record_rank_meta`` answers it without reading the rows."""
    if not doc_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(rank_meta_sql(len(doc_ids)), list(doc_ids))
        return {
            uid: ranking.RankMeta(
                evidence_level=level, publication_year=year, retracted=bool(retracted), evidence_strength=strength
            )
            for uid, level, year, retracted, strength in cursor.fetchall()
        }


def search_records(request: SearchRequest) -> SearchPage:
    """Return one page of results for ``request``.

    Raises SearchBackendUnavailable when the backend is down. Hostile or empty text gives an
    empty page, never an error.
    """
    started = time.perf_counter()
    sort = request.sort if request.sort in SORT_MODES else "evidence"
    page_size = min(max(request.page_size, 1), MAX_PAGE_SIZE)
    page = max(request.page, 1)
    parsed = parse_request(request)
    backend = get_backend()
    config = RetrievalSettings.from_settings()
    candidates, lexical, dense = retrieve_hits(parsed, backend=backend, config=config)
    weak = bool(parsed.embed_text) and ranking.nothing_relevant(lexical, dense, min_similarity=config.min_similarity)
    if weak:
        candidates = []  # only far vector neighbours: unrelated records are not shown
    meta = _rank_meta([c.doc_id for c in candidates])
    ranked = ranking.rank(
        candidates,
        meta,
        sort=sort,
        evidence_weight=config.evidence_weight,
        recency_weight=config.recency_weight,
        current_year=dt.date.today().year,
    )
    shown = ranked[(page - 1) * page_size : page * page_size]
    panel_ranks = _panel_ranks(candidates, meta)
    # One query loads the shown page and the bottom line's guideline and review candidates.
    wanted = [*(i.doc_id for i in shown), *panel_ranks]
    page_rows = EvidenceRecord.objects.filter(uid__in=wanted, deleted_at__isnull=True).select_related("guideline")
    by_uid = {r.uid: r for r in page_rows} if wanted else {}
    stems = parsed.highlight_stems
    results = []
    for item in shown:
        record = by_uid.get(item.doc_id)
        if record is None:  # tombstoned between the two reads
            continue
        body = highlight.ordered_abstract(record.abstract_sections or [], record.abstract or record.recommendation_text)
        results.append(
            SearchResult(
                record=record,
                breakdown=item.breakdown,
                title_html=highlight.mark(record.title, stems),
                # A recommendation is short and must be read whole; other records show an excerpt.
                snippet_html=highlight.mark(record.recommendation_text, stems)
                if record.kind == "recommendation" and record.recommendation_text
                else highlight.snippet(body, stems),
            )
        )
    facets = backend.facet_counts([r.doc_id for r in ranked]) if ranked else backend.facet_counts([])
    similarity = {h.doc_id: h.score for h in dense}
    answer = bottom_line.bottom_line(
        [
            bottom_line.Candidate(record=by_uid[uid], rank=rank, similarity=similarity.get(uid))
            for uid, rank in panel_ranks.items()
            if uid in by_uid
        ],
        stems,
    )
    return SearchPage(
        request=request,
        results=results,
        total=len(ranked),
        facets=facets,
        pending_vectors=IndexEntry.objects.vector_pending().count(),
        took_ms=(time.perf_counter() - started) * 1000,
        nothing_relevant=weak,
        translation=parsed.translation,
        bottom_line=answer,
    )


PANEL_LEVELS = frozenset({"guideline", "systematic_review"})


def _panel_ranks(candidates: Sequence[ranking.FusedCandidate], meta: dict[str, ranking.RankMeta]) -> dict[str, int]:
    """Return {uid: rank by relevance} of the guideline and review records among the top
    ``bottom_line.TOP_K`` candidates: what the bottom line may quote."""
    by_relevance = sorted(candidates, key=lambda c: (-c.fused, c.doc_id))[: bottom_line.TOP_K]
    return {
        c.doc_id: rank
        for rank, c in enumerate(by_relevance, start=1)
        if c.doc_id in meta and meta[c.doc_id].evidence_level in PANEL_LEVELS
    }


def similar_records(*, record: EvidenceRecord, limit: int = 5) -> list[EvidenceRecord]:
    """Return up to ``limit`` records nearest to ``record`` by vector (BM25 on its title when
    vectors are not ready), excluding the record itself and deleted records."""
    from search.embeddings import document_text
    from search.indexing import record_text

    backend = get_backend()
    hits: list[Hit] = []
    vector = None
    entry = IndexEntry.objects.filter(record=record, vector_ready=True).first()
    if entry is not None and backend.vector_space() is not None:
        try:
            cached = embedder_for_space(backend.vector_space()).cached_vectors(
                [document_text(record.title, record_text(record))]
            )
            vector = cached.get(0)
        except EmbeddingError:
            vector = None
    if vector is not None:
        hits = backend.vector_search(cast(Sequence[float], vector), filters=SearchFilters(), limit=limit + 1)
    if not hits:
        parsed = parse_request(SearchRequest(text=record.title.replace('"', " ")))
        hits = backend.lexical_search(parsed.lexical, filters=SearchFilters(), limit=limit + 1)
    ids = [h.doc_id for h in hits if h.doc_id != record.uid][:limit]
    found = {r.uid: r for r in EvidenceRecord.objects.filter(uid__in=ids, deleted_at__isnull=True)}
    return [found[i] for i in ids if i in found]


def suggest(*, prefix: str, limit: int = 8) -> list[str]:
    """Return up to ``limit`` MeSH terms and titles from the index starting with ``prefix``."""
    prefix = prefix.strip()[:100]
    if len(prefix) < 2:
        return []
    return get_backend().suggest_terms(prefix, limit=max(1, min(limit, 50)))


@dataclass(frozen=True)
class IndexStatus:
    records: int
    indexed: int
    vectors_ready: int

    @property
    def pending_vectors(self) -> int:
        return self.indexed - self.vectors_ready


def index_status() -> IndexStatus:
    """Return how many live records exist, are indexed, and have vectors."""
    return IndexStatus(
        records=EvidenceRecord.objects.filter(deleted_at__isnull=True, superseded=False).count(),
        indexed=IndexEntry.objects.count(),
        vectors_ready=IndexEntry.objects.filter(vector_ready=True).count(),
    )


__all__ = [
    "IndexStatus",
    "LexicalQuery",
    "index_status",
    "search_records",
    "similar_records",
    "suggest",
]
