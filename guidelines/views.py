"""Guideline pages. Thin: one selector, one template."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from guidelines.selectors import guideline_page


@require_GET
def guideline_detail(request: HttpRequest, guideline_id: int) -> HttpResponse:
    page = guideline_page(guideline_id=guideline_id)
    if page is None:
        raise Http404("No guideline with this id")
    return render(request, "guidelines/detail.html", {"page": page, "guideline": page.guideline})
