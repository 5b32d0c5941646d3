"""Search and record endpoints of the JSON API (``/api/v1/search``, ``/api/v1/records/{pmid}``).

Parameters are declared as strings so that a bad value reaches ``SearchForm`` and comes back as a
400 with a message naming the parameter (the same validation as the search page), rather than
django-ninja's generic 422.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.throttling import SimpleRateThrottle

from portal import analytics, presenters, selectors
from portal.forms import (
    DEFAULT_PAGE_SIZE,
    KIND_CHOICES,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_PICO,
    MAX_TEXT,
    MAX_VALUES,
    MAX_YEAR,
    MIN_YEAR,
    STRENGTH_CHOICES,
    SearchForm,
)
from records.evidence.levels import LEVELS
from search import clinical_queries
from search.backends.base import SearchBackendUnavailable
from search.types import SORT_MODES

DEFAULT_RATE = "600/m"


# Atomic sliding window in Redis: drop stamps older than the window, refuse at the limit, else
# record this request. Returns 1 when allowed. The member is made unique by Redis' own clock.
_REDIS_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, t[1] .. t[2] .. ':' .. redis.call('INCR', KEYS[1] .. ':n'))
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
redis.call('PEXPIRE', KEYS[1] .. ':n', math.ceil(window / 1000))
return 1
"""


@lru_cache(maxsize=2)
def _redis_window(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url).register_script(_REDIS_WINDOW)


class ClientRateThrottle(SimpleRateThrottle):
    """Per-client (IP address) sliding-window limit; the rate is ``settings.PORTAL_API_RATE``.

    With ``REDIS_URL`` set the window lives in Redis, so every web process and server shares one
    limit; without it each process keeps its own in its local cache. Unlike ninja's throttles it
    keeps no per-request state on the (shared) instance, so it is safe under a threaded server.
    """

    scope = "portal-api"
    _lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__(DEFAULT_RATE)

    def get_cache_key(self, request: HttpRequest) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: HttpRequest) -> bool:
        num_requests, duration = self.parse_rate(settings.PORTAL_API_RATE)
        if not num_requests or not duration:
            return True
        key = self.get_cache_key(request)
        if settings.REDIS_URL:
            script = _redis_window(str(settings.REDIS_URL))
            return bool(script(keys=[f"evidence:{key}"], args=[num_requests, int(duration * 1_000_000)]))
        now = self.timer()
        with self._lock:
            history = [stamp for stamp in self.cache.get(key, []) if stamp > now - duration]
            if len(history) >= num_requests:
                return False
            history.insert(0, now)
            self.cache.set(key, history, duration)
        return True

    def wait(self) -> float | None:
        return None


router = Router(tags=["search"], throttle=[ClientRateThrottle()])


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = Field(default_factory=dict, description="Messages per parameter")


class ScoreBreakdownOut(Schema):
    bm25_rank: int | None
    vector_rank: int | None
    fused_score: float
    evidence_boost: float
    recency_boost: float
    final_score: float
    evidence_strength: float = Field(
        description="What the evidence boost scaled: the level's strength, or for a predicted design the expected "
        "strength over its rung probabilities"
    )


class LinksOut(Schema):
    record: str = Field(description="The record's page on this portal")
    pubmed: str | None
    doi: str | None
    pmc: str | None = Field(description="Free full text in PubMed Central")
    source: str | None = Field(description="The publisher's page, for records that are not in PubMed")


class GuidelineOut(Schema):
    id: int
    title: str
    issuer: str = Field(description="Issuing body")
    year: int | None
    url: str | None = Field(description="The guideline document at its publisher")
    version: str
    page: str = Field(description="The guideline's page on this portal")
    superseded: bool = Field(description="A newer version of this guideline replaced it")
    outdated: bool = Field(description="Older than GUIDELINE_STALE_YEARS (default 5) years")


class RecommendationOut(Schema):
    text: str
    number: str = Field(description="The recommendation's number in its guideline")
    section: str
    strength: str = Field(description="strong, conditional, insufficient, expert_opinion, or empty when not stated")
    certainty: str = Field(description="Certainty of evidence: high, moderate, low, very_low, or empty when not stated")
    direction: str = Field(description="for, against, or empty (e.g. an I statement)")
    grade: str = Field(description="The issuer's own grade as printed (USPSTF B, GRADE 1B, ...)")
    strength_wording: str = Field(description="The words in the document that gave the strength and certainty")
    population: str
    anchor: str
    superseded: bool
    source_url: str | None = Field(description="The source document, at this recommendation when it has an anchor")
    page: str = Field(description="The guideline page on this portal, at this recommendation")
    guideline: GuidelineOut


class SearchResultOut(Schema):
    pmid: str | None
    uid: str
    kind: str = Field(description="article, recommendation (one recommendation of a guideline) or guideline")
    title: str
    journal: str
    year: int | None
    authors: list[str]
    evidence_level: str
    evidence_explanation: dict[str, Any]
    predicted: bool = Field(description="The level came from the classifier, not from PubMed metadata")
    evidence_probability: float | None = Field(description="The classifier's probability of its most likely design")
    evidence_probabilities: dict[str, float] = Field(
        description="The classifier's calibrated probability of every design ({} when PubMed's indexing graded it)"
    )
    retracted: bool
    snippet: str = Field(description="HTML: escaped text with matched terms in <mark>")
    score_breakdown: ScoreBreakdownOut | None
    links: LinksOut
    recommendation: RecommendationOut | None = Field(description="Set for kind recommendation")


class QueryTranslationOut(Schema):
    original: str
    text: str = Field(description="The English the Chinese query was searched (and embedded) as")
    unknown: list[str] = Field(description="Chinese characters the term list did not cover")


class PanelLinksOut(Schema):
    record: str = Field(description="The record's page on this portal")
    source: str | None = Field(description="PubMed or the issuer's page")


class PanelItemOut(Schema):
    kind: str = Field(description="recommendation or systematic_review")
    uid: str
    title: str
    text: str = Field(
        description="Sentences taken verbatim from the record: a recommendation's text, or a review's"
        " CONCLUSIONS section (else the last sentences of its abstract). Plain text: escape it for HTML"
    )
    citation: str
    evidence_level: str
    evidence_level_name: str
    year: int | None
    issuer: str | None
    strength: str | None = Field(description="strong, conditional, insufficient or expert_opinion")
    certainty: str | None = Field(description="high, moderate, low or very_low")
    direction: str | None = Field(description="for or against (a review's: read from its conclusion)")
    strength_label: str = Field(description="strength spelled out in the request's language")
    certainty_label: str
    direction_label: str
    links: PanelLinksOut


class BottomLineOut(Schema):
    lead: str = Field(
        description="Which item matches the question better and is shown first: recommendation or systematic_review"
    )
    recommendation: PanelItemOut | None
    review: PanelItemOut | None
    conflict: bool = Field(
        description="True when a matching recommendation or a newer review points the other way, or when the"
        " recommendation and the review shown disagree"
    )
    conflicts: list[PanelItemOut] = Field(description="The items that disagree with the ones shown")


class SearchOut(Schema):
    count: int
    page: int
    page_size: int
    pending_vectors: int = Field(description="Records not yet embedded; search uses what is ready")
    results: list[SearchResultOut]
    facets: dict[str, dict[str, int]]
    nothing_relevant: bool = Field(
        False,
        description="True when no record matched the query's words and the nearest records by meaning were too"
        " far (SEARCH_MIN_VECTOR_SIMILARITY): results are then empty rather than unrelated",
    )
    bottom_line: BottomLineOut | None = Field(
        None,
        description="Extractive answer above the results: the best-matching guideline recommendation and the"
        " conclusion of the best-matching systematic review, each with citation, level and link; null when"
        " nothing matches strongly enough",
    )
    query_translation: QueryTranslationOut | None = Field(
        None, description="Set when the query held Chinese: what it was searched as in English"
    )


class RecordOut(Schema):
    pmid: str | None
    uid: str
    kind: str
    source: str
    source_id: str
    title: str
    abstract: str
    abstract_sections: list[dict[str, Any]]
    journal: str
    journal_abbreviation: str
    publication_date: str | None
    publication_date_raw: str
    year: int | None
    authors: list[str]
    doi: str | None
    pmcid: str | None
    language: str
    publication_types: list[str]
    mesh_headings: list[dict[str, Any]]
    keywords: list[str]
    issuing_body: str
    recommendation_text: str
    evidence_level: str
    evidence_explanation: dict[str, Any]
    predicted: bool
    evidence_probability: float | None
    evidence_probabilities: dict[str, float]
    evidence_strength: float | None = Field(description="What the evidence boost of a search scales by")
    retracted: bool
    retraction_notice: bool
    has_erratum: bool
    version: int
    links: LinksOut
    recommendation: RecommendationOut | None


EMPTY_SEARCH: dict[str, Any] = {"count": 0, "pending_vectors": 0, "results": [], "facets": {}}


NO_NUL = "^[^\\u0000]*$"


def _doc(description: str, **schema: Any) -> Any:
    """Document a parameter's real type and bounds; ``SearchForm`` enforces them (400, not 422)."""
    is_list = "items" in schema
    declared = {"type": "array" if is_list else "string", **schema}
    # Free text never holds a NUL character (the form rejects it with a 400): say so.
    for target in (declared["items"] if is_list else declared,):
        if target.get("type", "string") == "string" and "enum" not in target and "maxLength" in target:
            target.setdefault("pattern", NO_NUL)

    def replace(generated: dict[str, Any]) -> None:
        generated.pop("anyOf", None)  # the loose str | None that lets bad values reach the form
        generated.update(declared)

    return Field(None, description=description, json_schema_extra=replace)


LEVEL_SLUGS = [info.level.value for info in LEVELS]


class SearchParams(Schema):
    q: str | None = _doc('Free text: words and "quoted phrases"', maxLength=MAX_TEXT)
    population: str | None = _doc("PICO: population or problem", maxLength=MAX_PICO)
    intervention: str | None = _doc("PICO: intervention", maxLength=MAX_PICO)
    comparison: str | None = _doc("PICO: comparison", maxLength=MAX_PICO)
    outcome: str | None = _doc("PICO: outcome", maxLength=MAX_PICO)
    level: list[str] | None = _doc(
        "Evidence level; repeatable", items={"type": "string", "enum": LEVEL_SLUGS}, maxItems=len(LEVEL_SLUGS)
    )
    year_from: str | None = _doc("First publication year", type="integer", minimum=MIN_YEAR, maximum=MAX_YEAR)
    year_to: str | None = _doc("Last publication year", type="integer", minimum=MIN_YEAR, maximum=MAX_YEAR)
    type: list[str] | None = _doc(
        "Publication type (PubMed's names); repeatable", items={"type": "string", "maxLength": 100}, maxItems=MAX_VALUES
    )
    language: list[str] | None = _doc(
        "Language code (eng, fre...); repeatable", items={"type": "string", "maxLength": 16}, maxItems=MAX_VALUES
    )
    free_full_text: str | None = _doc("Only records with free full text (PMC)", enum=["true", "false"])
    kind: list[str] | None = _doc(
        "Kind of record; repeatable",
        items={"type": "string", "enum": [value for value, _ in KIND_CHOICES]},
        maxItems=len(KIND_CHOICES),
    )
    issuer: list[str] | None = _doc(
        "Guideline issuer (exact name, as in the issuer facet); repeatable",
        items={"type": "string", "maxLength": 255},
        maxItems=MAX_VALUES,
    )
    strength: list[str] | None = _doc(
        "Recommendation strength; repeatable",
        items={"type": "string", "enum": [value for value, _ in STRENGTH_CHOICES]},
        maxItems=len(STRENGTH_CHOICES),
    )
    question: str | None = _doc(
        "Clinical question type (PubMed Clinical Queries filter): therapy, diagnosis, prognosis, etiology,"
        " clinical_prediction, or systematic_reviews (PubMed's systematic review subset)",
        enum=list(clinical_queries.QUESTION_CHOICES),
    )
    scope: str | None = _doc(
        "Scope of the clinical question filter: broad (sensitive) or narrow (specific); ignored for systematic_reviews",
        enum=list(clinical_queries.SCOPES),
        default="broad",
    )
    sort: str | None = _doc("Order of results", enum=list(SORT_MODES), default="evidence")
    page: str | None = _doc("Page number", type="integer", minimum=1, maximum=MAX_PAGE, default=1)
    page_size: str | None = _doc(
        f"Results per page; larger values are capped at {MAX_PAGE_SIZE}",
        type="integer",
        minimum=1,
        default=DEFAULT_PAGE_SIZE,
    )


@router.get(
    "/search",
    response={200: SearchOut, 400: ErrorOut, 429: ErrorOut, 503: ErrorOut},
    summary="Search graded evidence",
    operation_id="search",
)
def search(request: HttpRequest, params: Query[SearchParams]) -> Status[dict[str, Any]]:
    form = SearchForm(request.GET)
    if not form.is_valid():
        return Status(400, {"detail": "Invalid search parameters", "errors": form.error_messages()})
    search_request = form.to_search_request()
    if not form.has_query():
        return Status(200, {**EMPTY_SEARCH, "page": search_request.page, "page_size": search_request.page_size})
    try:
        page = selectors.run_search(search_request)
    except SearchBackendUnavailable:
        return Status(503, {"detail": "Search is temporarily unavailable; try again shortly", "errors": {}})
    analytics.query_record(search_request=search_request, results=page.total)
    return Status(
        200,
        {
            "count": page.total,
            "page": search_request.page,
            "page_size": search_request.page_size,
            "pending_vectors": page.pending_vectors,
            "results": [presenters.result_payload(result) for result in page.results],
            "facets": page.facets,
            "nothing_relevant": page.nothing_relevant,
            "bottom_line": presenters.bottom_line_payload(page.bottom_line),
            "query_translation": (
                {
                    "original": page.translation.original,
                    "text": page.translation.text,
                    "unknown": list(page.translation.unknown),
                }
                if page.translation
                else None
            ),
        },
    )


@router.get(
    "/records/{pmid}",
    response={200: RecordOut, 404: ErrorOut, 429: ErrorOut},
    summary="One record, whole",
    operation_id="record",
)
def record(request: HttpRequest, pmid: str) -> Status[dict[str, Any]]:
    found = selectors.record_by_key(pmid)
    if found is None:
        return Status(404, {"detail": f"No record with id {pmid!r}", "errors": {}})
    return Status(200, presenters.record_payload(found))
