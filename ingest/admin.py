"""Admin pages: harvest runs with their progress and errors, saved queries, work items."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ingest.models import HarvestRun, SavedQuery, WorkItem
from ingest.runs import run_resume


class WorkItemInline(admin.TabularInline):
    model = WorkItem
    fields = ("key", "kind", "status", "attempts", "error", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    max_num = 0


@admin.register(HarvestRun)
class HarvestRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "source",
        "query",
        "window_start",
        "window_end",
        "status",
        "found",
        "fetched",
        "new",
        "updated",
        "unchanged",
        "new_versions",
        "deleted",
        "failed",
        "updated_at",
    )
    list_filter = ("status", "source")
    search_fields = ("query",)
    readonly_fields = (
        "source",
        "saved_query",
        "guideline_source",
        "started_by",
        "query",
        "datetype",
        "window_start",
        "window_end",
        "status",
        "found",
        "fetched",
        "new",
        "updated",
        "unchanged",
        "new_versions",
        "deleted",
        "failed",
        "errors",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )
    inlines = [WorkItemInline]
    actions = ["resume"]

    @admin.action(description="Re-enqueue pending work of the selected runs")
    def resume(self, request: HttpRequest, queryset: QuerySet[HarvestRun]) -> None:
        sent = sum(run_resume(run_id=run.pk) for run in queryset)
        self.message_user(request, f"re-enqueued {sent} pending work items")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SavedQuery)
class SavedQueryAdmin(admin.ModelAdmin):
    list_display = ("name", "query", "datetype", "checkpoint", "updated_at")
    search_fields = ("name", "query")


@admin.register(WorkItem)
class WorkItemAdmin(admin.ModelAdmin):
    list_display = ("run", "key", "kind", "status", "attempts", "enqueued_at", "updated_at")
    list_filter = ("status", "kind")
    readonly_fields = ("run", "kind", "key", "sequence", "payload", "status", "attempts", "error", "enqueued_at")
