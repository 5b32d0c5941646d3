"""What a running job reports through: progress, counts, errors, results, and the cancel check."""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone

from operations.models import Job

MAX_ERRORS_KEPT = 200
FLUSH_SECONDS = 0.5


class JobCancelled(Exception):
    """Raised inside a job when staff asked it to stop; the runner marks it cancelled."""


class JobContext:
    """Handed to a job kind's ``run``. Writes go to the job row at most every half second (and
    at every phase change); each write also reads the cancel flag and raises JobCancelled."""

    def __init__(self, job: Job) -> None:
        self.job_id = job.pk
        self.phase = job.phase
        self.done = job.done
        self.total = job.total
        self.counts: dict[str, Any] = dict(job.counts)
        self.errors: list[str] = list(job.errors)
        self.result: dict[str, Any] = dict(job.result)
        self._phase_started = time.monotonic()
        self._phase_done = 0
        self._flushed = 0.0
        self._dirty = True

    def progress(self, phase: str, done: int, total: int) -> None:
        """Report ``done`` of ``total`` in ``phase``; raise JobCancelled when asked to stop."""
        if phase != self.phase:
            self.phase, self._phase_started, self._phase_done = phase, time.monotonic(), done
            self._flushed = 0.0  # a new phase is written at once
        self.done, self.total = max(int(done), 0), max(int(total), 0)
        self._dirty = True
        if time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()

    def count(self, **counts: int) -> None:
        """Add to the named counts (fetched, new, updated, deleted, failed, indexed...)."""
        for name, value in counts.items():
            self.counts[name] = int(self.counts.get(name, 0)) + int(value)
        self._dirty = True

    def set_counts(self, **counts: Any) -> None:
        self.counts.update(counts)
        self._dirty = True

    def error(self, message: str) -> None:
        self.errors = [*self.errors, str(message)[:2000]][-MAX_ERRORS_KEPT:]
        self._dirty = True

    def set_result(self, **values: Any) -> None:
        """Record results (written at once: cleanup after a crash may need them)."""
        self.result.update(values)
        self._dirty = True
        self.flush()

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._phase_started
        return (self.done - self._phase_done) / elapsed if elapsed > 0.5 else 0.0

    def check_cancel(self) -> None:
        """Raise JobCancelled when staff asked the job to stop."""
        if Job.objects.filter(pk=self.job_id, cancel_requested=True).exists():
            raise JobCancelled()

    def flush(self) -> None:
        """Write what changed to the job row, then check the cancel flag."""
        if self._dirty:
            Job.objects.filter(pk=self.job_id).update(
                phase=self.phase[:200],
                done=self.done,
                total=self.total,
                rate=round(self.rate, 3),
                counts=self.counts,
                errors=self.errors,
                result=self.result,
                heartbeat_at=timezone.now(),
                updated_at=timezone.now(),
            )
            self._dirty = False
        self._flushed = time.monotonic()
        self.check_cancel()
