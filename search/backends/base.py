"""The interface every search backend implements (embedded and Elasticsearch).

Backends return ranked lists of stable document ids; fusion and evidence-aware ranking happen
afterwards in ``search.ranking``, identically for every backend.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from search.documents import IndexDocument


class DuplicatePolicy(enum.Enum):
    """What ``index_documents`` does with a document id that is already indexed."""

    OVERWRITE = "overwrite"
    SKIP = "skip"
    FAIL = "fail"


class SearchBackendError(Exception):
    """The backend failed in a way the caller should report (bad mapping, corrupt index...)."""


class SearchBackendUnavailable(SearchBackendError):
    """The backend cannot be reached right now; the portal shows a 'search is down' message."""


class DuplicateDocumentError(SearchBackendError):
    """A document id was indexed twice under ``DuplicatePolicy.FAIL``."""


@dataclass(frozen=True)
class SearchFilters:
    """Filters applied inside every retriever, so filtered pages are full."""

    evidence_levels: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    publication_types: tuple[str, ...] = ()
    free_full_text: bool | None = None
    languages: tuple[str, ...] = ()
    include_retracted: bool = True
    # Each entry is a group of ``name:value`` tags: a document passes when it has at least one
    # tag of every group (OR within a group, AND across groups).
    tag_groups: tuple[tuple[str, ...], ...] = ()

    def is_empty(self) -> bool:
        return self == SearchFilters()


@dataclass(frozen=True)
class LexicalQuery:
    """Parsed user text: free terms and quoted phrases, with optional per-term weights.

    Backends escape or validate every term: no user text reaches an engine's query parser raw.
    """

    terms: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    term_weights: tuple[float, ...] = ()

    def is_empty(self) -> bool:
        return not self.terms and not self.phrases


@dataclass(frozen=True)
class Hit:
    doc_id: str
    score: float


@dataclass
class IndexReport:
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""
    documents: int = 0
    vectors: int = 0


FacetCounts = dict[str, dict[str, int]]


class SearchBackend(abc.ABC):
    """A place to index and search documents. Created from ``SEARCH_BACKENDS`` options."""

    supports_vectors: bool = True
    supports_facets: bool = True

    def __init__(self, alias: str, **options: object) -> None:
        self.alias = alias
        self.options = options

    # --- writing ---------------------------------------------------------------------------
    @abc.abstractmethod
    def index_documents(
        self, documents: Iterable[IndexDocument], *, on_duplicate: DuplicatePolicy = DuplicatePolicy.OVERWRITE
    ) -> IndexReport:
        """Add or replace documents (vectors included when present). Returns what happened."""

    @abc.abstractmethod
    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        """Remove documents by id; return how many were removed. Missing ids are ignored."""

    # --- reading ---------------------------------------------------------------------------
    @abc.abstractmethod
    def lexical_search(self, query: LexicalQuery, *, filters: SearchFilters, limit: int) -> list[Hit]:
        """Return up to ``limit`` BM25 hits, best first."""

    @abc.abstractmethod
    def vector_search(self, vector: Sequence[float], *, filters: SearchFilters, limit: int) -> list[Hit]:
        """Return up to ``limit`` cosine-nearest hits, best first."""

    @abc.abstractmethod
    def count(self, *, filters: SearchFilters) -> int:
        """Return how many documents match the filters."""

    @abc.abstractmethod
    def facet_counts(self, doc_ids: Sequence[str]) -> FacetCounts:
        """Return counts per facet (evidence_level, publication_year, publication_type,
        free_full_text, language) over the given documents."""

    @abc.abstractmethod
    def document_ids(self) -> set[str]:
        """Return every indexed id (for reconciliation with the database)."""

    @abc.abstractmethod
    def content_hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """Return the indexed content hash of each given id that is indexed."""

    @abc.abstractmethod
    def health(self) -> Health:
        """Say whether the backend answers, and how much it holds."""

    # --- optional (defaults suit a backend without them) -------------------------------------
    def vector_space(self) -> tuple[str, int] | None:
        """Return (model name, dimension) of the stored vectors, or None when there are none."""
        return None

    def suggest_terms(self, prefix: str, *, limit: int) -> list[str]:
        """Return MeSH terms and titles that start with ``prefix`` (for autocomplete)."""
        return []

    # --- generations (zero-downtime rebuilds) -----------------------------------------------
    @abc.abstractmethod
    def create_generation(self) -> str:
        """Create an empty index generation beside the live one; return its name."""

    @abc.abstractmethod
    def generation_backend(self, generation: str) -> SearchBackend:
        """Return a backend that writes to (and reads from) the given generation."""

    @abc.abstractmethod
    def switch_generation(self, generation: str) -> None:
        """Make the generation the live one atomically; the old one is kept for rollback."""

    @abc.abstractmethod
    def drop_generation(self, generation: str) -> None:
        """Delete a generation that is not live."""

    @abc.abstractmethod
    def generations(self) -> list[str]:
        """Return existing generation names, oldest first."""

    @abc.abstractmethod
    def live_generation(self) -> str | None:
        """Return the name of the live generation, or None before the first build."""
