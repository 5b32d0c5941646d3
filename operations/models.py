"""Operations bookkeeping: jobs started by staff (or schedules), their locks, the audit log and
the workers' heartbeats.

A job is one piece of admin work (rebuild the index, re-embed, regrade, retrain, harvest) run by
a Celery worker. It reports progress (done / total, rate), beats while it runs, can be asked to
stop (``cancel_requested``) and ends with counts and errors. Jobs are never deleted: they are the
history.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    kind = models.CharField(max_length=64, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    # What the job is doing now ("filling the new generation", "verifying"...).
    phase = models.CharField(max_length=200, blank=True)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    # Items per second over the current phase.
    rate = models.FloatField(default=0.0)
    # fetched, new, updated, deleted, failed, indexed... whatever the kind counts.
    counts = models.JSONField(default=dict, blank=True)
    # ["message", ...], newest last (capped).
    errors = models.JSONField(default=list, blank=True)
    # What the job produced or is tracking: generation name, model version, harvest run id.
    result = models.JSONField(default=dict, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="operations_jobs"
    )
    # Who or what started it, kept when the user is deleted ("alice", "schedule: nightly", "command line").
    started_by_label = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return max((end - self.started_at).total_seconds(), 0.0)


class JobLock(models.Model):
    """One row per held lock ("search-index"): a second job of the same lock cannot be created.

    The primary key makes acquisition atomic in any database; a lock whose job finished, or
    whose running job stopped beating, is taken over (see ``operations.services``).
    """

    name = models.CharField(max_length=64, primary_key=True)
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="lock")
    acquired_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} held by job {self.job_id}"


class AppendOnlyQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("the audit log is append-only")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise TypeError("the audit log is append-only")


class AuditEntry(models.Model):
    """One admin action: who, what, when, and how it ended. Rows are never changed or removed."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=200, blank=True)
    result = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target}: {self.result}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise TypeError("the audit log is append-only")


class WorkerBeat(models.Model):
    """The last time each Celery worker said it was alive (a thread in the worker beats)."""

    hostname = models.CharField(max_length=200, unique=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname} seen {self.last_seen}"
