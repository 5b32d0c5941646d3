"""What the search index holds for each record, as the database sees it.

One row per record that has been sent to the index: the content hash of the indexed document
and whether its vector is there yet. ``embed_pending`` works from this table, the portal shows
``pending_vectors`` from it, and reconciliation compares it with the backend.
"""

from __future__ import annotations

from django.db import models


class IndexEntryQuerySet(models.QuerySet["IndexEntry"]):
    def vector_pending(self) -> IndexEntryQuerySet:
        """Entries whose vector is not ready. Written as ``IN (false)`` because Django renders
        ``vector_ready=False`` as ``NOT vector_ready``, which SQLite answers by scanning the
        whole index (7 ms per search page at 100k records) instead of seeking it."""
        return self.filter(vector_ready__in=[False])


class IndexEntry(models.Model):
    record = models.OneToOneField("records.EvidenceRecord", on_delete=models.CASCADE, related_name="index_entry")
    doc_id = models.CharField(max_length=100, unique=True)
    content_hash = models.CharField(max_length=64)
    vector_ready = models.BooleanField(default=False, db_index=True)
    vector_model = models.CharField(max_length=200, blank=True)
    indexed_at = models.DateTimeField(auto_now=True)

    objects = IndexEntryQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.doc_id} ({'vector' if self.vector_ready else 'pending'})"
