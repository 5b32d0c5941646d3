"""Query analytics (off by default; see docs/privacy.md)."""

from __future__ import annotations

from django.db import models


class QueryLogEntry(models.Model):
    """One search, scrubbed: no client address, no user, no time finer than the day.

    Stored only when ``QUERY_ANALYTICS`` is on, and deleted ``QUERY_ANALYTICS_RETENTION_DAYS``
    after ``day`` by the scheduled ``portal.purge_query_log`` task.
    """

    day = models.DateField(db_index=True)
    text = models.CharField(max_length=500, blank=True)
    pico = models.JSONField(default=dict, blank=True)
    results = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "-id"]

    def __str__(self) -> str:
        return f"{self.day}: {self.text}"
