"""Reads the portal makes: records by id, a search page's context, similar records, readiness."""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import QueryDict
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.translation import gettext_lazy as _

from guidelines.presenters import RecommendationView, recommendation_view
from portal import presenters
from portal.forms import KIND_CHOICES, SORT_CHOICES, STRENGTH_CHOICES, SearchForm
from records.models import EvidenceRecord
from search.backends.base import SearchBackendError, SearchBackendUnavailable
from search.types import SearchPage, SearchRequest, SearchResult

logger = logging.getLogger(__name__)

ADD_TO_COLLECTION_TEMPLATE = "curation/_add_to_collection.html"
PICO = ("population", "intervention", "comparison", "outcome")
_WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")


def record_by_key(key: str) -> EvidenceRecord | None:
    """Return the live record addressed by a PMID (digits) or a uid (``source:id``), else None."""
    records = EvidenceRecord.objects.filter(deleted_at__isnull=True).select_related("guideline")
    if key.isdigit():
        return records.filter(pmid=key).order_by("id").first()
    return records.filter(uid=key).first()


def run_search(request: SearchRequest) -> SearchPage:
    """Return a page of results from the search service.

    Raises ``SearchBackendUnavailable`` when the backend cannot be reached.
    """
    from search.services import search_records

    return search_records(request)


def spelling_suggestions(text: str, *, limit: int = 3) -> list[str]:
    """Return corrected queries for a query that found nothing, using terms the index holds."""
    from search.services import suggest

    words = _WORD.findall(text)
    if not words:
        return []
    corrected = text
    changed = False
    for word in words[:6]:
        try:
            candidates = suggest(prefix=word[:2].lower(), limit=200)
        except SearchBackendError:
            return []
        vocabulary = {part.lower() for candidate in candidates for part in _WORD.findall(str(candidate))}
        if word.lower() in vocabulary:
            continue
        matches = difflib.get_close_matches(word.lower(), sorted(vocabulary), n=1, cutoff=0.75)
        if matches:
            corrected = re.sub(rf"\b{re.escape(word)}\b", matches[0], corrected, count=1)
            changed = True
    return [corrected][:limit] if changed else []


def similar_to(record: EvidenceRecord, *, limit: int = 5) -> tuple[list[EvidenceRecord], bool]:
    """Return (nearest-neighbour records, available); available is False when search is down."""
    from search.services import similar_records

    try:
        items = similar_records(record=record, limit=limit)
    except SearchBackendUnavailable:
        return [], False
    except SearchBackendError:
        logger.exception("similar records failed for %s", record.uid)
        return [], False
    similar = [getattr(item, "record", item) for item in items]
    return [item for item in similar if isinstance(item, EvidenceRecord) and item.pk != record.pk], True


def breakdown_from_search(record: EvidenceRecord, form: SearchForm) -> SearchResult | None:
    """Return this record's result in the search the user came from (for "why this rank"), if any."""
    if not form.is_valid() or not form.has_query():
        return None
    try:
        page = run_search(form.to_search_request())
    except SearchBackendError:
        return None
    return next((result for result in page.results if result.record.pk == record.pk), None)


def add_to_collection_available() -> bool:
    try:
        get_template(ADD_TO_COLLECTION_TEMPLATE)
    except TemplateDoesNotExist:
        return False
    return True


# (parameter and facet name, heading, value labels) of the guideline filters on the search page.
GUIDELINE_FACETS = (
    ("kind", _("Kind"), dict(KIND_CHOICES)),
    ("issuer", _("Guideline issuer"), {}),
    ("strength", _("Recommendation strength"), dict(STRENGTH_CHOICES)),
)


@dataclass
class ResultCard:
    result: SearchResult
    badge: presenters.Badge
    authors: str
    links: dict[str, str | None]
    url: str
    recommendation: RecommendationView | None = None


def search_context(form: SearchForm, params: QueryDict, page: SearchPage) -> dict[str, Any]:
    """Return what the results template shows for a valid form and its page of results."""
    data = form.cleaned_data
    search_query = params.urlencode()
    cards = [
        ResultCard(
            result=result,
            badge=presenters.badge_for(result.record),
            authors=presenters.first_authors(result.record),
            links=presenters.record_links(result.record),
            url=presenters.record_path(result.record) + (f"?{search_query}" if search_query else ""),
            recommendation=recommendation_view(result.record),
        )
        for result in page.results
    ]
    year_min, year_max = presenters.year_bounds(page.facets)
    context: dict[str, Any] = {
        "page": page,
        "cards": cards,
        "level_facet": presenters.level_facet(page.facets, params, data.get("level") or []),
        "type_facet": presenters.value_facet(page.facets, "publication_type", "type", params, data.get("type") or []),
        "language_facet": presenters.value_facet(
            page.facets, "language", "language", params, data.get("language") or [], labels=presenters.LANGUAGE_NAMES
        ),
        "free_full_text_count": presenters.free_full_text_count(page.facets),
        "guideline_facets": [
            (
                name,
                title,
                presenters.value_facet(page.facets, name, name, params, data.get(name) or [], labels=labels),
            )
            for name, title, labels in GUIDELINE_FACETS
        ],
        "year_min": year_min,
        "year_max": year_max,
        "sort_links": presenters.sort_links(params, page.request.sort, SORT_CHOICES),
        "pages": presenters.pagination(page, params) if page.page_count > 1 else [],
        "previous_url": presenters.url_with(params, page=page.request.page - 1) if page.request.page > 1 else "",
        "next_url": presenters.url_with(params, page=page.request.page + 1)
        if page.request.page < page.page_count
        else "",
        "active_filters": presenters.active_filters(data, params),
        "bottom_line": presenters.bottom_line_payload(page.bottom_line) if page.request.page == 1 else None,
        "first_shown": (page.request.page - 1) * page.request.page_size + 1,
        "last_shown": (page.request.page - 1) * page.request.page_size + len(page.results),
    }
    # Dense retrieval always finds neighbours, so "no keyword matched" is the cue for spelling help.
    if not any(result.breakdown.bm25_rank for result in page.results):
        context["spelling"] = [
            {"text": text, "url": presenters.url_with(params, q=text)}
            for text in spelling_suggestions(data.get("q") or "")
        ]
    return context


def readiness() -> tuple[bool, dict[str, Any]]:
    """Return (ready, detail): the database answers and the search backend is healthy."""
    from search.backends import get_backend

    detail: dict[str, Any] = {}
    ready = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        detail["database"] = {"ok": True}
    except Exception as error:  # any driver error means "not ready"
        ready = False
        detail["database"] = {"ok": False, "detail": f"{type(error).__name__}: {error}"}
    try:
        health = get_backend().health()
        detail["search"] = {
            "ok": health.ok,
            "detail": health.detail,
            "documents": health.documents,
            "vectors": health.vectors,
        }
        ready = ready and health.ok
    except Exception as error:  # an unreachable or misconfigured backend is "not ready", not a 500
        ready = False
        detail["search"] = {"ok": False, "detail": f"{type(error).__name__}: {error}"}
    # Reported, not required: searching works while the broker is down (jobs wait), and the
    # model is not loaded here (that would make the probe slow).
    from operations.selectors import broker_health

    detail["broker"] = broker_health(timeout=1.0)
    space = None
    if detail["search"]["ok"]:
        try:
            space = get_backend().vector_space()
        except Exception:  # reported under "search" on the next probe
            space = None
    detail["model"] = {
        "configured": settings.EMBEDDING_MODEL,
        "runtime": settings.EMBEDDING_RUNTIME,
        "index": space[0] if space else None,
        "dimension": space[1] if space else None,
    }
    return ready, detail
