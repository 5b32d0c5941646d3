"""Harvest bookkeeping: runs, saved queries with their checkpoint, and the work items of a run.

A run is cut into work items (a date window to search, a batch of PMIDs to fetch, a file to
load). Each item is done exactly once, in the same transaction that stores its records, so a
worker killed at any moment leaves the run resumable: pending items are simply enqueued again.
"""

from __future__ import annotations

from django.db import models


class HarvestSource(models.TextChoices):
    EUTILS = "eutils", "PubMed E-utilities"
    FILES = "files", "PubMed bulk files"
    GUIDELINES = "guidelines", "Guideline publishers"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class DateType(models.TextChoices):
    ENTREZ = "edat", "Entrez date"
    MODIFICATION = "mdat", "Modification date"
    PUBLICATION = "pdat", "Publication date"


class SavedQuery(models.Model):
    """A PubMed query harvested again and again; ``checkpoint`` is where the next run starts."""

    name = models.CharField(max_length=200, unique=True)
    query = models.TextField()
    datetype = models.CharField(max_length=4, choices=DateType.choices, default=DateType.MODIFICATION)
    # The last modification date a successful run covered (its window end); None before the first.
    checkpoint = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "saved queries"

    def __str__(self) -> str:
        return self.name


class HarvestRun(models.Model):
    source = models.CharField(max_length=16, choices=HarvestSource.choices)
    saved_query = models.ForeignKey(SavedQuery, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    query = models.TextField(blank=True)
    datetype = models.CharField(max_length=4, choices=DateType.choices, blank=True)
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True)
    # The configured guideline source a guideline run harvests (None for a one-off run).
    guideline_source = models.ForeignKey(
        "guidelines.GuidelineSource", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    # Who or what started the run ("beat", "admin:alice", a command); shown in the admin.
    started_by = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True)

    found = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    # Guideline runs: documents stored as a newer (or older) version of a guideline already held.
    new_versions = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # [{"at": iso time, "where": item key or record, "error": message}, ...], newest last.
    errors = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        what = self.query or "files"
        return f"run {self.pk} ({self.source}: {what[:40]}) {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)


class ItemKind(models.TextChoices):
    WINDOW = "window", "Search a date window"
    BATCH = "batch", "Fetch a batch of PMIDs"
    FILE = "file", "Load a file"
    OAI_PAGE = "oai_page", "Fetch an OAI-PMH page"
    FEED = "feed", "Read a guideline feed"
    DOCUMENT = "document", "Fetch a guideline document"
    USPSTF = "uspstf", "Read USPSTF recommendations"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class WorkItem(models.Model):
    """One idempotent step of a run; its payload is what the task needs beyond its id."""

    run = models.ForeignKey(HarvestRun, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    # Unique within the run, so planning the same step twice creates it once.
    key = models.CharField(max_length=255)
    # Order in which file items must be applied (update files replace older versions).
    sequence = models.PositiveIntegerField(default=0)
    # window: {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}; batch: {"pmids": [...]};
    # file: {"path": "...", "done": records already stored from this file}.
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="unique_work_item_key_per_run")]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.key} {self.status}"


class RateLimitSlot(models.Model):
    """The database fallback of the shared E-utilities rate limiter (see ``ingest.ratelimit``)."""

    name = models.CharField(max_length=64, unique=True)
    # Seconds since the epoch at which the next request may start.
    next_at = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"{self.name}: {self.next_at}"
