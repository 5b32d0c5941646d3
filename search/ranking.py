"""Fusion and evidence-aware ranking: pure functions over ranked id lists (same for every backend).

Fusion never adds raw scores from different retrievers:

- ``rrf``: score(d) = sum over lists of 1 / (k + rank(d)), rank starting at 1.
- ``linear``: each list's scores are min-max normalised to [0, 1] over its own candidates, then
  score(d) = w * bm25_norm(d) + (1 - w) * vector_norm(d) (a list that missed d contributes 0).

Ranking with evidence in view (sort mode ``evidence``, the default)::

    relevance = fused / max(fused)                      (in [0, 1])
    final     = relevance * (1 + E * strength + R * recency)

where ``strength`` in [0, 1] is the record's stored ``evidence_strength``: ``level_strength`` of a
grade from PubMed's indexing (full boost), the expected strength over the rung probabilities of
a predicted one (a record 60 % RCT and 40 % cohort is boosted between the two); retracted records
get 0, and a record graded before strengths were stored falls back to ``level_strength``.
``recency`` = max(0, 1 - age_years / RECENCY_HORIZON) (0 when the year is unknown), and E, R
are ``SEARCH_EVIDENCE_WEIGHT`` and ``SEARCH_RECENCY_WEIGHT``. Being multiplicative, the boost
reorders results of similar relevance but cannot lift a weak match above a strong one by more
than a factor (1 + E + R). ``relevance`` sorts by relevance alone; ``newest`` by year, then
relevance. Ties break by document id so pages are stable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from records.evidence.levels import level_strength
from search.backends.base import Hit
from search.types import ScoreBreakdown

RECENCY_HORIZON = 20.0


class Fusion(enum.StrEnum):
    RRF = "rrf"
    LINEAR = "linear"


@dataclass(frozen=True)
class FusedCandidate:
    doc_id: str
    fused: float
    bm25_rank: int | None
    vector_rank: int | None


@dataclass(frozen=True)
class RankMeta:
    evidence_level: str | None = None
    publication_year: int | None = None
    retracted: bool = False
    evidence_strength: float | None = None


def strength_of(info: RankMeta) -> float:
    """Return the evidence strength ranking uses: the stored one, else the level's (0 when retracted)."""
    if info.retracted:
        return 0.0
    if info.evidence_strength is not None:
        return min(max(float(info.evidence_strength), 0.0), 1.0)
    return level_strength(info.evidence_level)


@dataclass(frozen=True)
class Ranked:
    doc_id: str
    breakdown: ScoreBreakdown


def _ranks(hits: Sequence[Hit]) -> dict[str, int]:
    """Return 1-based ranks; a repeated id keeps its first (best) rank."""
    ranks: dict[str, int] = {}
    for hit in hits:
        ranks.setdefault(hit.doc_id, len(ranks) + 1)
    return ranks


def reciprocal_rank_fusion(ranked_lists: Sequence[Sequence[str]], *, k: int = 60) -> dict[str, float]:
    """Return RRF scores: sum of 1 / (k + rank) over the lists (duplicates in a list count once)."""
    scores: dict[str, float] = {}
    for ids in ranked_lists:
        seen: set[str] = set()
        rank = 0
        for doc_id in ids:
            if doc_id in seen:
                continue
            seen.add(doc_id)
            rank += 1
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return scores


def min_max(hits: Sequence[Hit]) -> dict[str, float]:
    """Return each id's score scaled to [0, 1] within the list (all 1.0 when scores are equal)."""
    best: dict[str, float] = {}
    for hit in hits:
        best.setdefault(hit.doc_id, hit.score)
    if not best:
        return {}
    lo, hi = min(best.values()), max(best.values())
    if hi - lo <= 1e-12:
        return dict.fromkeys(best, 1.0)
    return {d: (s - lo) / (hi - lo) for d, s in best.items()}


def linear_fusion(lexical: Sequence[Hit], vector: Sequence[Hit], *, lexical_weight: float) -> dict[str, float]:
    """Return w * normalised BM25 + (1 - w) * normalised cosine per id."""
    a, b = min_max(lexical), min_max(vector)
    return {d: lexical_weight * a.get(d, 0.0) + (1 - lexical_weight) * b.get(d, 0.0) for d in a.keys() | b.keys()}


def fuse(
    lexical: Sequence[Hit],
    vector: Sequence[Hit],
    *,
    method: Fusion | str = Fusion.RRF,
    rrf_k: int = 60,
    lexical_weight: float = 0.5,
) -> list[FusedCandidate]:
    """Return the union of both lists with fused scores, best first (ties by id)."""
    bm25_ranks, vector_ranks = _ranks(lexical), _ranks(vector)
    if Fusion(method) is Fusion.RRF:
        scores = reciprocal_rank_fusion([list(bm25_ranks), list(vector_ranks)], k=rrf_k)
    else:
        scores = linear_fusion(lexical, vector, lexical_weight=lexical_weight)
    fused = [FusedCandidate(d, s, bm25_ranks.get(d), vector_ranks.get(d)) for d, s in scores.items()]
    fused.sort(key=lambda c: (-c.fused, c.doc_id))
    return fused


def recency(year: int | None, *, current_year: int) -> float:
    """Return 1.0 for this year's records down to 0.0 at RECENCY_HORIZON years or unknown."""
    if year is None or year <= 0:
        return 0.0
    return max(0.0, min(1.0, 1.0 - (current_year - year) / RECENCY_HORIZON))


def rank(
    candidates: Sequence[FusedCandidate],
    meta: Mapping[str, RankMeta],
    *,
    sort: str = "evidence",
    evidence_weight: float = 0.15,
    recency_weight: float = 0.05,
    current_year: int,
) -> list[Ranked]:
    """Return candidates in the order of ``sort`` with their score breakdowns.

    Candidates missing from ``meta`` (no longer in the database) are dropped.
    """
    top = max((c.fused for c in candidates), default=0.0) or 1.0
    out: list[tuple[tuple[float, ...], Ranked]] = []
    for c in candidates:
        info = meta.get(c.doc_id)
        if info is None:
            continue
        relevance = c.fused / top
        strength = strength_of(info)
        fresh = recency(info.publication_year, current_year=current_year)
        evidence_boost = evidence_weight * strength if sort == "evidence" else 0.0
        recency_boost = recency_weight * fresh if sort == "evidence" else 0.0
        final = relevance * (1.0 + evidence_boost + recency_boost)
        breakdown = ScoreBreakdown(
            bm25_rank=c.bm25_rank,
            vector_rank=c.vector_rank,
            fused_score=c.fused,
            evidence_boost=evidence_boost,
            recency_boost=recency_boost,
            final_score=final,
            evidence_strength=strength,
        )
        key = (-(info.publication_year or 0), -final) if sort == "newest" else (-final,)
        out.append((key, Ranked(c.doc_id, breakdown)))
    out.sort(key=lambda item: (*item[0], item[1].doc_id))  # type: ignore[arg-type]
    return [r for _, r in out]


def nothing_relevant(lexical: Sequence[Hit], dense: Sequence[Hit], *, min_similarity: float) -> bool:
    """Return True when every candidate is weak: no lexical match at all, and only vector
    neighbours less than ``min_similarity`` (cosine) close. Such a query is answered "nothing
    relevant found" rather than with unrelated records. No candidate at all is not "weak" but
    plain "nothing matched" (a filter that nothing passes, say)."""
    if lexical or not dense:
        return False
    return max(hit.score for hit in dense) < min_similarity
