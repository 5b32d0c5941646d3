"""Fusion and evidence-aware ranking on hand-written ranked lists."""

from __future__ import annotations

import pytest

from search.backends.base import Hit
from search.ranking import (
    FusedCandidate,
    RankMeta,
    fuse,
    linear_fusion,
    min_max,
    rank,
    reciprocal_rank_fusion,
)


def hits(*pairs: tuple[str, float]) -> list[Hit]:
    return [Hit(d, s) for d, s in pairs]


def test_rrf_of_empty_lists_is_empty() -> None:
    assert reciprocal_rank_fusion([[], []]) == {}
    assert fuse([], []) == []


def test_rrf_sums_reciprocal_ranks_with_the_constant() -> None:
    scores = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=10)
    assert scores["a"] == pytest.approx(1 / 11)
    assert scores["b"] == pytest.approx(1 / 12 + 1 / 11)
    assert scores["c"] == pytest.approx(1 / 12)


def test_rrf_of_disjoint_lists_interleaves_by_rank() -> None:
    fused = fuse(hits(("a", 9.0), ("b", 8.0)), hits(("x", 0.9), ("y", 0.8)), method="rrf", rrf_k=60)
    assert [c.doc_id for c in fused] == ["a", "x", "b", "y"]
    assert fused[0].bm25_rank == 1 and fused[0].vector_rank is None
    assert fused[1].vector_rank == 1 and fused[1].bm25_rank is None


def test_duplicate_ids_in_a_list_count_once_at_their_best_rank() -> None:
    assert reciprocal_rank_fusion([["a", "a", "b"]], k=0) == {"a": 1.0, "b": 0.5}
    fused = fuse(hits(("a", 5.0), ("a", 1.0), ("b", 3.0)), [], method="rrf")
    assert [(c.doc_id, c.bm25_rank) for c in fused] == [("a", 1), ("b", 2)]


def test_min_max_scales_each_list_to_unit_range() -> None:
    assert min_max(hits(("a", 10.0), ("b", 5.0), ("c", 0.0))) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert min_max(hits(("a", 3.0), ("b", 3.0))) == {"a": 1.0, "b": 1.0}
    assert min_max([]) == {}


def test_linear_fusion_weights_normalised_scores_not_raw_ones() -> None:
    # Raw BM25 scores are huge next to cosines; normalised, both lists count as weighted.
    scores = linear_fusion(hits(("a", 40.0), ("b", 20.0)), hits(("b", 0.9), ("a", 0.1)), lexical_weight=0.5)
    assert scores == {"a": pytest.approx(0.5), "b": pytest.approx(0.5)}
    scores = linear_fusion(hits(("a", 40.0), ("b", 20.0)), hits(("b", 0.9), ("a", 0.1)), lexical_weight=0.7)
    assert scores["a"] > scores["b"]


def test_linear_fusion_of_disjoint_lists_keeps_everything() -> None:
    fused = fuse(hits(("a", 2.0), ("b", 1.0)), hits(("x", 0.5), ("y", 0.4)), method="linear", lexical_weight=0.6)
    assert {c.doc_id for c in fused} == {"a", "b", "x", "y"}
    assert fused[0].doc_id == "a"


def test_fusion_ties_break_by_id_for_stable_pages() -> None:
    fused = fuse(hits(("b", 1.0)), hits(("a", 1.0)), method="rrf")
    assert [c.doc_id for c in fused] == ["a", "b"]


CANDIDATES = [FusedCandidate("weak-rct", 0.95, 1, 1), FusedCandidate("strong-unknown", 1.0, 2, 2)]


def test_evidence_order_lifts_stronger_design_among_close_relevance() -> None:
    meta = {"weak-rct": RankMeta("rct", 2020), "strong-unknown": RankMeta(None, 2020)}
    ranked = rank(CANDIDATES, meta, sort="evidence", evidence_weight=0.15, recency_weight=0.0, current_year=2026)
    assert [r.doc_id for r in ranked] == ["weak-rct", "strong-unknown"]
    assert ranked[0].breakdown.evidence_boost > 0
    by_relevance = rank(CANDIDATES, meta, sort="relevance", current_year=2026)
    assert [r.doc_id for r in by_relevance] == ["strong-unknown", "weak-rct"]
    assert by_relevance[0].breakdown.evidence_boost == 0


def test_evidence_boost_cannot_lift_a_far_weaker_match() -> None:
    candidates = [FusedCandidate("guideline", 0.3, 5, None), FusedCandidate("match", 1.0, 1, 1)]
    meta = {"guideline": RankMeta("guideline", 2026), "match": RankMeta("unknown", 1990)}
    ranked = rank(candidates, meta, sort="evidence", evidence_weight=0.15, recency_weight=0.05, current_year=2026)
    assert ranked[0].doc_id == "match"


def test_retracted_records_get_no_evidence_boost() -> None:
    meta = {"weak-rct": RankMeta("rct", 2020, retracted=True), "strong-unknown": RankMeta(None, 2020)}
    ranked = rank(CANDIDATES, meta, sort="evidence", evidence_weight=0.15, recency_weight=0.0, current_year=2026)
    assert ranked[0].doc_id == "strong-unknown"
    assert ranked[1].breakdown.evidence_boost == 0


def test_a_predicted_record_is_boosted_by_its_expected_strength() -> None:
    from records.evidence.levels import expected_strength, level_strength

    mixed = expected_strength({"rct": 0.6, "cohort": 0.4})
    meta = {
        "weak-rct": RankMeta("rct", 2020, evidence_strength=mixed),
        "strong-unknown": RankMeta("rct", 2020),  # indexed: full boost of its level
    }
    ranked = rank(CANDIDATES, meta, sort="evidence", evidence_weight=0.15, recency_weight=0.0, current_year=2026)
    by_id = {r.doc_id: r.breakdown for r in ranked}
    assert by_id["weak-rct"].evidence_strength == pytest.approx(mixed)
    assert by_id["weak-rct"].evidence_boost == pytest.approx(0.15 * mixed)
    assert level_strength("cohort") < mixed < level_strength("rct")
    assert by_id["strong-unknown"].evidence_boost == pytest.approx(0.15 * level_strength("rct"))
    # A doubtful prediction counts less than a confident one of the same rung.
    doubtful = expected_strength({"rct": 0.4, "case_series": 0.6})
    sure = expected_strength({"rct": 0.95, "cohort": 0.05})
    assert doubtful < sure


def test_a_retracted_predicted_record_gets_no_boost() -> None:
    meta = {"weak-rct": RankMeta("rct", 2020, retracted=True, evidence_strength=0.8)}
    ranked = rank(CANDIDATES, meta, sort="evidence", current_year=2026)
    assert ranked[0].breakdown.evidence_boost == 0


def test_newest_sorts_by_year_then_relevance() -> None:
    meta = {"weak-rct": RankMeta("rct", 2024), "strong-unknown": RankMeta(None, 2010)}
    ranked = rank(CANDIDATES, meta, sort="newest", current_year=2026)
    assert [r.doc_id for r in ranked] == ["weak-rct", "strong-unknown"]


def test_candidates_missing_from_the_database_are_dropped() -> None:
    ranked = rank(CANDIDATES, {"weak-rct": RankMeta("rct", 2020)}, current_year=2026)
    assert [r.doc_id for r in ranked] == ["weak-rct"]


def test_breakdown_carries_ranks_and_scores() -> None:
    ranked = rank(CANDIDATES, {"weak-rct": RankMeta("rct", 2026)}, sort="evidence", current_year=2026)
    b = ranked[0].breakdown
    assert (b.bm25_rank, b.vector_rank, b.fused_score) == (1, 1, 0.95)
    assert b.final_score == pytest.approx(0.95 * (1 + b.evidence_boost + b.recency_boost))


def test_only_far_vector_neighbours_and_no_lexical_match_is_nothing_relevant() -> None:
    from search.ranking import nothing_relevant

    far = [Hit("a", 0.31), Hit("b", 0.2)]
    assert nothing_relevant([], far, min_similarity=0.45)
    assert not nothing_relevant([], [], min_similarity=0.45)  # nothing at all: "nothing matched"
    assert not nothing_relevant([], [Hit("a", 0.5), *far], min_similarity=0.45)
    assert not nothing_relevant([Hit("c", 3.2)], far, min_similarity=0.45)  # a lexical match is never weak
