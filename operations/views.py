"""The operations pages under /ops/ (staff only): parse input, call one service, shape output.

Anonymous visitors are sent to the login page; signed-in users who are not staff get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from operations import schedules as schedule_services
from operations import selectors, services
from operations.forms import JobSearchForm, ReembedForm, SavedQueryForm, ScheduleForm
from operations.models import Job
from operations.registry import InvalidJobParams, job_kinds

JOB_PARAMS = ("batch_size", "model", "runtime", "only_unsettled", "saved_query", "source")
PAGE_SIZE = 50

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Login page for anonymous users, 403 for signed-in users who are not staff."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("the operations area is for staff")
        return view(request, *args, **kwargs)

    return wrapper


def _job(pk: int) -> Job:
    job = Job.objects.filter(pk=pk).first()
    if job is None:
        raise Http404("no such job")
    return job


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    from guidelines.models import GuidelineSource
    from ingest.models import SavedQuery

    services.jobs_watch()
    state = selectors.ops_state()
    return render(
        request,
        "operations/dashboard.html",
        {
            "state": state,
            "saved_queries": SavedQuery.objects.order_by("name"),
            "guideline_sources": GuidelineSource.objects.filter(enabled=True).order_by("name"),
            "reembed_form": ReembedForm(initial={"runtime": state["embedding"]["runtime"]}),
            "recent": [selectors.job_summary(j) for j in Job.objects.order_by("-created_at", "-pk")[:10]],
        },
    )


@require_GET
@staff_required
def state_json(request: HttpRequest) -> JsonResponse:
    services.jobs_watch()
    return JsonResponse(selectors.ops_state())


@require_POST
@staff_required
def job_start(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    params = {name: request.POST[name] for name in JOB_PARAMS if request.POST.get(name, "") != ""}
    try:
        job = services.job_start(kind=kind, params=params, user=request.user)
    except services.JobConflict as conflict:
        return render(request, "operations/conflict.html", {"job": selectors.job_summary(conflict.job)}, status=409)
    except InvalidJobParams as error:
        messages.error(request, gettext("Not started: %(error)s") % {"error": error})
        return redirect("operations:dashboard")
    return redirect("operations:job", pk=job.pk)


@require_GET
@staff_required
def job_list(request: HttpRequest) -> HttpResponse:
    form = JobSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    jobs = selectors.job_search(
        text=filters.get("q") or "", kind=filters.get("kind") or "", status=filters.get("status") or ""
    )
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "operations/job_list.html",
        {"form": form, "page": page, "jobs": [selectors.job_summary(j) for j in page.object_list]},
    )


@require_GET
@staff_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    services.jobs_watch()
    job = _job(pk)
    state = selectors.index_state()
    return render(
        request,
        "operations/job_detail.html",
        {"job": selectors.job_summary(job), "live_generation": state.live_generation},
    )


@require_GET
@staff_required
def job_json(request: HttpRequest, pk: int) -> JsonResponse:
    services.jobs_watch()
    summary = selectors.job_summary(_job(pk))
    summary["live_generation"] = selectors.index_state().live_generation
    return JsonResponse(summary)


@require_POST
@staff_required
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(pk)
    services.job_cancel(job_id=job.pk, user=request.user)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(selectors.job_summary(_job(pk)))
    messages.info(request, gettext("Job %(id)s: cancel requested") % {"id": job.pk})
    return redirect("operations:job", pk=job.pk)


@staff_required
def sources(request: HttpRequest) -> HttpResponse:
    """Saved PubMed queries, guideline sources and the job schedules, editable."""
    from guidelines.models import GuidelineSource
    from ingest.models import SavedQuery

    query_form = SavedQueryForm()
    schedule_form = ScheduleForm()
    status = 200
    if request.method == "POST" and request.POST.get("form") == "query":
        query_form = SavedQueryForm(request.POST)
        if query_form.is_valid():
            try:
                services.saved_query_save(user=request.user, **query_form.cleaned_data)
                messages.success(request, gettext("Saved query saved"))
                return redirect("operations:sources")
            except InvalidJobParams as error:
                query_form.add_error(None, str(error))
        status = 400
    elif request.method == "POST" and request.POST.get("form") == "schedule":
        schedule_form = ScheduleForm(request.POST)
        if schedule_form.is_valid():
            data = schedule_form.cleaned_data
            params = {"saved_query": data["saved_query"].pk} if data["saved_query"] else {}
            if data["guideline_source"]:
                params["source"] = data["guideline_source"].pk
            try:
                schedule_services.schedule_save(
                    name=data["name"],
                    kind=data["kind"],
                    params=params,
                    every_hours=data["every_hours"],
                    cron=data["cron"] or "",
                    enabled=data["enabled"],
                    user=request.user,
                    schedule_id=int(request.POST["schedule_id"])
                    if request.POST.get("schedule_id", "").isdigit()
                    else None,
                )
                messages.success(request, gettext("Schedule saved"))
                return redirect("operations:sources")
            except InvalidJobParams as error:
                schedule_form.add_error(None, str(error))
        status = 400
    elif request.method not in ("GET", "HEAD", "POST"):
        return HttpResponse(status=405)
    all_schedules = schedule_services.schedules()
    return render(
        request,
        "operations/sources.html",
        {
            "saved_queries": SavedQuery.objects.order_by("name"),
            "guideline_sources": GuidelineSource.objects.order_by("name"),
            "schedules": all_schedules,
            "edit_forms": [
                (s, ScheduleForm(initial=schedule_services.schedule_form_initial(s), auto_id=f"id_s{s.id}_%s"))
                for s in all_schedules
            ],
            "query_form": query_form,
            "schedule_form": schedule_form,
            "kinds": {k.name: k.label for k in job_kinds()},
        },
        status=status,
    )


@require_POST
@staff_required
def schedule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    if schedule_services.schedule_delete(schedule_id=pk, user=request.user):
        messages.success(request, gettext("Schedule deleted"))
    return redirect("operations:sources")


@require_GET
@staff_required
def audit(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[:200]
    page = Paginator(selectors.audit_search(text=text), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "operations/audit.html", {"page": page, "q": text})


def job_url(job_id: int) -> str:
    return reverse("operations:job", kwargs={"pk": job_id})
