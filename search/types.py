"""The request a search page or API call makes, and the page of results it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search.backends.base import FacetCounts, SearchFilters

if TYPE_CHECKING:
    from records.models import EvidenceRecord
    from search.bottom_line import BottomLine
    from search.translation import Translation

SORT_MODES = ("evidence", "relevance", "newest")


@dataclass(frozen=True)
class SearchRequest:
    """What the user asked: free text (may hold "phrases" and field filters), PICO parts,
    explicit filters, sort mode and page."""

    text: str = ""
    population: str = ""
    intervention: str = ""
    comparison: str = ""
    outcome: str = ""
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: str = "evidence"
    page: int = 1
    page_size: int = 20


@dataclass(frozen=True)
class ScoreBreakdown:
    """Why a result is where it is (shown in "why this rank" and the API)."""

    bm25_rank: int | None
    vector_rank: int | None
    fused_score: float
    evidence_boost: float
    recency_boost: float
    final_score: float
    # The strength the evidence boost scaled: the level's, or for a predicted design the expected
    # strength over its rung probabilities.
    evidence_strength: float = 0.0


@dataclass
class SearchResult:
    record: EvidenceRecord
    breakdown: ScoreBreakdown
    title_html: str  # escaped, matched terms wrapped in <mark>
    snippet_html: str  # escaped, matched terms wrapped in <mark>


@dataclass
class SearchPage:
    request: SearchRequest
    results: list[SearchResult]
    total: int
    facets: FacetCounts
    pending_vectors: int = 0  # records not yet embedded: search uses what is ready
    took_ms: float = 0.0
    # No lexical match and only far vector neighbours: the results were withheld as unrelated.
    nothing_relevant: bool = False
    # The English a Chinese query was searched as (None for queries without Chinese).
    translation: Translation | None = None
    # The extractive answer panel (best recommendation, best review conclusion), or None.
    bottom_line: BottomLine | None = None

    @property
    def page_count(self) -> int:
        size = max(self.request.page_size, 1)
        return max(1, -(-self.total // size))
