"""Celery tasks of the operations area: thin adapters onto ``operations.services``.

``operations.run_job`` takes a job id, claims the job atomically (a duplicate message does
nothing) and runs it; the job's own heartbeat, not the broker, says whether it is alive, so no
broker retries. ``operations.watch_jobs`` fails jobs whose worker died; ``operations.run_scheduled``
is what Celery beat's database schedules call.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Task, shared_task

from operations import services
from operations.registry import InvalidJobParams

# A rebuild of a large index takes long: the hard limit is generous; the heartbeat decides death.
JOB_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(name="operations.run_job", bind=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300, **JOB_OPTIONS)
def run_job(self: Task, job_id: int) -> str | None:
    """Run the queued job ``job_id``; return its final status (None: not queued any more)."""
    worker = f"{self.request.hostname or services.worker_name()} pid {os.getpid()}"
    return services.job_execute(job_id=int(job_id), worker=worker)


@shared_task(name="operations.watch_jobs", soft_time_limit=60, time_limit=90, ignore_result=True)
def watch_jobs() -> dict[str, int]:
    """Fail jobs whose worker stopped beating, resend lost queued jobs, follow harvest runs."""
    report = services.jobs_watch()
    return {"failed": report.failed, "resent": report.resent, "synced": report.synced}


@shared_task(name="operations.run_scheduled", soft_time_limit=60, time_limit=90, ignore_result=True)
def run_scheduled(kind: str, params: dict[str, Any] | None = None, schedule: str = "") -> int | None:
    """Start a job from a Celery beat schedule; return its id (None when refused: logged and audited)."""
    try:
        job = services.job_start(kind=str(kind), params=dict(params or {}), label=f"schedule: {schedule or kind}")
    except (InvalidJobParams, services.JobConflict):
        return None
    return job.pk
