"""The guideline upload page, for staff and guideline authors. Thin: form, one service, redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as N_
from django.views.decorators.http import require_http_methods

from curation.permissions import is_author
from guidelines.forms import GuidelineUploadForm
from guidelines.uploads import guideline_upload
from ingest.guidelines.types import GuidelineParseError

OUTCOME_WORDS = {
    "new": N_("stored as a new guideline"),
    "updated": N_("updated"),
    "unchanged": N_("already held, unchanged"),
    "new_version": N_("stored as a new version; the older one is now superseded"),
    "older_version": N_("stored as an older version of a guideline already held"),
}


@login_required
@require_http_methods(["GET", "POST"])
def guideline_upload_view(request: HttpRequest) -> HttpResponse:
    if not is_author(request.user):
        raise PermissionDenied(gettext("Only guideline authors and staff can upload guidelines."))
    form = GuidelineUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = guideline_upload(
                data=data["document"].read(),
                filename=data["document"].name or "document",
                title=data["title"],
                issuer=data["issuer"],
                year=data["year"],
                url=data["url"],
                version=data["version"],
            )
        except GuidelineParseError as error:
            form.add_error("document", str(error))
        else:
            words = gettext(OUTCOME_WORDS[result.outcome]) if result.outcome in OUTCOME_WORDS else result.outcome
            message = gettext("“%(title)s”: %(words)s, %(count)s recommendation(s).")
            messages.success(
                request, message % {"title": data["title"], "words": words, "count": result.recommendations}
            )
            return redirect("guideline-upload")
    status = 400 if request.method == "POST" else 200
    return render(request, "guidelines/upload.html", {"form": form}, status=status)
