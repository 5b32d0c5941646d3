"""Portal pages. Thin: parse the request, call one selector, render."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from guidelines.presenters import recommendation_view
from portal import analytics, presenters, selectors
from portal.forms import SearchForm
from records.citations import BIBTEX_MEDIA_TYPE, RIS_MEDIA_TYPE, records_to_bibtex, records_to_ris
from records.models import EvidenceRecord
from search.backends.base import SearchBackendError, SearchBackendUnavailable

SUGGEST_MAX_PREFIX = 100


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    context: dict[str, object] = {"form": form, "show_pico": any(request.GET.get(name) for name in selectors.PICO)}
    if not form.is_valid():
        context["errors"] = form.error_messages()
        context["error_list"] = [
            (field, form.fields[field].label if field in form.fields else field, messages)
            for field, messages in context["errors"].items()
        ]
        return render(request, "portal/search.html", context, status=400)
    if not form.has_query():
        return render(request, "portal/search.html", context)
    search_request = form.to_search_request()
    try:
        page = selectors.run_search(search_request)
    except SearchBackendUnavailable:
        context["unavailable"] = True
        return render(request, "portal/search.html", context, status=503)
    analytics.query_record(search_request=search_request, results=page.total)
    context.update(selectors.search_context(form, request.GET, page))
    return render(request, "portal/search.html", context)


def _record_or_404(key: str) -> EvidenceRecord:
    record = selectors.record_by_key(key)
    if record is None:
        raise Http404("No record with this id")
    return record


@require_GET
def record_page(request: HttpRequest, key: str) -> HttpResponse:
    record = _record_or_404(key)
    form = SearchForm(request.GET)
    similar, similar_available = selectors.similar_to(record)
    explanation, reasons = presenters.explanation_html(record)
    context = {
        "record": record,
        "badge": presenters.badge_for(record),
        "links": presenters.record_links(record),
        "explanation": explanation,
        "reasons": reasons,
        "prediction": presenters.design_prediction(record),
        "from_search": selectors.breakdown_from_search(record, form),
        "search_query": request.GET.urlencode(),
        "similar": [(item, presenters.badge_for(item), presenters.record_path(item)) for item in similar],
        "similar_available": similar_available,
        "key": presenters.record_key(record),
        "add_to_collection": selectors.add_to_collection_available(),
        "recommendation": recommendation_view(record),
    }
    return render(request, "portal/record.html", context)


def _download(text: str, *, media_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type=f"{media_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def record_ris(request: HttpRequest, key: str) -> HttpResponse:
    record = _record_or_404(key)
    return _download(records_to_ris([record]), media_type=RIS_MEDIA_TYPE, filename=f"{_filename(record)}.ris")


@require_GET
def record_bibtex(request: HttpRequest, key: str) -> HttpResponse:
    record = _record_or_404(key)
    return _download(records_to_bibtex([record]), media_type=BIBTEX_MEDIA_TYPE, filename=f"{_filename(record)}.bib")


def _filename(record: EvidenceRecord) -> str:
    return f"pmid{record.pmid}" if record.pmid else "".join(c if c.isalnum() else "-" for c in record.uid)


@require_GET
def suggest(request: HttpRequest) -> JsonResponse:
    """Return ``{"suggestions": [...]}`` for the search box (MeSH terms and titles)."""
    from search.services import suggest as suggest_terms

    prefix = request.GET.get("q", "").strip()[:SUGGEST_MAX_PREFIX]
    if len(prefix) < 2:
        return JsonResponse({"suggestions": []})
    try:
        suggestions = [str(item) for item in suggest_terms(prefix=prefix, limit=8)]
    except SearchBackendError:
        return JsonResponse({"suggestions": [], "detail": "Search is unavailable"}, status=503)
    return JsonResponse({"suggestions": suggestions})


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (no dependencies checked)."""
    return JsonResponse({"ok": True})


def readyz(request: HttpRequest) -> JsonResponse:
    """The database and the search backend answer; 503 with the detail when either does not."""
    ready, detail = selectors.readiness()
    return JsonResponse({"ok": ready, **detail}, status=200 if ready else 503)
