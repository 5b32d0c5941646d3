"""Queue indexing of never-indexed records and embedding of pending ones (used by `make run`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from records.models import EvidenceRecord
from search.models import IndexEntry
from search.tasks import embed_pending, index_records

BATCH = 500


class Command(BaseCommand):
    help = "Enqueue search.index_records for unindexed records and search.embed_pending for pending vectors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=BATCH, help="records per task")

    def handle(self, *args: Any, **options: Any) -> None:
        batch = max(1, options["batch"])
        unindexed = list(
            EvidenceRecord.objects.filter(deleted_at__isnull=True, index_entry__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)
        )
        for start in range(0, len(unindexed), batch):
            index_records.delay(unindexed[start : start + batch])
        pending = IndexEntry.objects.vector_pending().count()
        for _ in range(0, pending, batch):
            embed_pending.delay(limit=batch)
        self.stdout.write(f"queued {len(unindexed)} record(s) for indexing and {pending} pending embedding(s)")
