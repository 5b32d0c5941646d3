"""Admin for evidence records: look up and inspect; content comes from loads and harvests."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from records.models import EvidenceRecord


@admin.register(EvidenceRecord)
class EvidenceRecordAdmin(admin.ModelAdmin):
    list_display = ("uid", "short_title", "journal", "publication_year", "evidence_level", "retracted", "deleted_at")
    list_filter = ("kind", "source", "evidence_level", "retracted", "publication_status")
    search_fields = ("=source_id", "=pmid", "=doi", "title")
    date_hierarchy = "last_harvested_at"
    ordering = ("-last_harvested_at",)
    readonly_fields = (
        "uid",
        "content_hash",
        "version",
        "source_version",
        "first_harvested_at",
        "last_harvested_at",
        "updated_at",
        "deleted_at",
    )
    show_full_result_count = False

    @admin.display(description="title")
    def short_title(self, record: EvidenceRecord) -> str:
        return record.title[:90]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Records come from loads and harvests (records.services), never typed in by hand.
        return False
