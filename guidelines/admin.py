"""Admin pages of guidelines: the configured sources, with a "harvest now" action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from guidelines.models import GuidelineSource
from ingest.guidelines.runs import GuidelineRunError, guideline_source_harvest


@admin.register(GuidelineSource)
class GuidelineSourceAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "protocol",
        "url",
        "set_spec",
        "issuer",
        "interval_hours",
        "enabled",
        "checkpoint",
        "last_run",
    )
    list_filter = ("protocol", "enabled")
    search_fields = ("name", "url", "issuer")
    actions = ["harvest_now"]

    @admin.display(description="Last run")
    def last_run(self, source: GuidelineSource) -> str:
        run = source.runs.order_by("-created_at").first()
        if run is None:
            return "never"
        link = reverse("admin:ingest_harvestrun_change", args=[run.pk])
        return format_html(
            '<a href="{}">run {} {}</a> {}', link, run.pk, run.status, run.created_at.strftime("%Y-%m-%d %H:%M")
        )

    @admin.action(description="Harvest the selected sources now")
    def harvest_now(self, request: HttpRequest, queryset: QuerySet[GuidelineSource]) -> None:
        started = []
        for source in queryset.order_by("name"):
            try:
                run_id = guideline_source_harvest(source_id=source.pk, started_by=f"admin:{request.user}")
            except GuidelineRunError as error:
                self.message_user(request, f"{source.name}: {error}", level=messages.ERROR)
            else:
                started.append(f"{source.name} (run {run_id})")
        if started:
            self.message_user(request, f"harvest started: {', '.join(started)}")
