"""Writes of the operations area: start, run, cancel and watch jobs; locks; the audit log.

Every admin action goes through one function here and leaves an ``AuditEntry``. Jobs are sent
to the workers after commit (``operations.run_job``); the runner claims a job atomically, so a
message delivered twice runs it once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from operations.context import JobCancelled, JobContext
from operations.models import ACTIVE_STATUSES, AuditEntry, Job, JobLock, JobStatus, WorkerBeat
from operations.registry import InvalidJobParams, JobKind, Params, job_kind

logger = logging.getLogger(__name__)

RUN_TASK = "operations.run_job"
UserLike = AbstractBaseUser | AnonymousUser


class JobConflict(Exception):
    """A job holding the same lock is queued or running; ``job`` is that job."""

    def __init__(self, job: Job, lock: str) -> None:
        super().__init__(f"a {lock} job is already {job.status}: job {job.pk}")
        self.job = job
        self.lock = lock


def heartbeat_timeout() -> float:
    return float(getattr(settings, "OPS_HEARTBEAT_TIMEOUT", 60))


def heartbeat_interval() -> float:
    return max(heartbeat_timeout() / 6, 0.2)


def _label(user: UserLike | None, fallback: str) -> str:
    if user is not None and user.is_authenticated:
        return str(user.get_username())
    return fallback


# --- audit ---------------------------------------------------------------------------------------


def audit_record(
    *, actor: UserLike | None, action: str, target: str = "", result: str, actor_label: str = "", **detail: Any
) -> AuditEntry:
    """Append one entry to the audit log and return it."""
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEntry.objects.create(  # type: ignore[misc]
        actor=user,
        actor_label=actor_label or _label(actor, "system"),
        action=action[:64],
        target=target[:200],
        result=result[:200],
        detail=detail,
    )


# --- locks ---------------------------------------------------------------------------------------


def _lock_is_stale(lock: JobLock) -> bool:
    job = lock.job
    if not job.is_active:
        return True
    if job.status == JobStatus.RUNNING and job_kind_or_none(job.kind) is not None:
        kind = job_kind(job.kind)
        if kind.sync is None:
            beat = job.heartbeat_at or job.started_at or job.created_at
            return beat < timezone.now() - timedelta(seconds=heartbeat_timeout())
    return False


def job_kind_or_none(name: str) -> JobKind | None:
    try:
        return job_kind(name)
    except InvalidJobParams:
        return None


def _lock_take(name: str, job: Job) -> Job | None:
    """Inside a transaction: give lock ``name`` to ``job``; return the job holding it instead."""
    existing = JobLock.objects.select_related("job").filter(name=name).first()
    if existing is not None and _lock_is_stale(existing):
        if existing.job.is_active:
            _job_abandon(existing.job, reason=_silence_reason(existing.job))
        JobLock.objects.filter(name=name, job_id=existing.job_id).delete()
        existing = None
    if existing is not None:
        return existing.job
    try:
        with transaction.atomic():
            JobLock.objects.create(name=name, job=job)
    except IntegrityError:
        return JobLock.objects.select_related("job").get(name=name).job
    return None


def _lock_release(job_id: int) -> None:
    JobLock.objects.filter(job_id=job_id).delete()


# --- starting ------------------------------------------------------------------------------------


def _enqueue(job_id: int) -> None:
    from evidence_portal.celery import app

    app.send_task(RUN_TASK, args=[job_id])


def job_start(
    *, kind: str, params: Params | None = None, user: UserLike | None = None, label: str = "", enqueue: bool = True
) -> Job:
    """Create a job of ``kind`` and send it to the workers after commit; return it.

    Raises InvalidJobParams (unknown kind, bad parameters) and JobConflict (a job holding the
    same lock is queued or running). Both are written to the audit log, as is the start.
    """
    who = _label(user, label or "system")
    try:
        definition = job_kind(kind)
        cleaned = definition.clean(dict(params or {}))
    except InvalidJobParams as error:
        audit_record(actor=user, actor_label=who, action="job.start", target=kind, result=f"refused: {error}")
        raise
    try:
        with transaction.atomic():
            job = Job.objects.create(  # type: ignore[misc]
                kind=kind,
                params=cleaned,
                started_by=user if user is not None and user.is_authenticated else None,
                started_by_label=who,
            )
            if definition.lock:
                holder = _lock_take(definition.lock, job)
                if holder is not None:
                    raise JobConflict(holder, definition.lock)
            if enqueue:
                transaction.on_commit(lambda: _enqueue(job.pk))
    except JobConflict as conflict:
        audit_record(
            actor=user,
            actor_label=who,
            action="job.start",
            target=kind,
            result=f"refused: job {conflict.job.pk} holds the {conflict.lock} lock",
            params=cleaned,
        )
        raise
    audit_record(
        actor=user, actor_label=who, action="job.start", target=f"job {job.pk} {kind}", result="queued", params=cleaned
    )
    return job


def job_cancel(*, job_id: int, user: UserLike | None = None, label: str = "") -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops at its next
    progress report. Returns the job; raises Job.DoesNotExist."""
    job = Job.objects.get(pk=job_id)
    who = _label(user, label or "system")
    if not job.is_active:
        audit_record(
            actor=user, actor_label=who, action="job.cancel", target=f"job {job.pk}", result=f"already {job.status}"
        )
        return job
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), phase="cancelled before it started"
    ):
        _lock_release(job.pk)
    kind = job_kind_or_none(job.kind)
    job.refresh_from_db()
    if job.status == JobStatus.RUNNING and kind is not None and kind.cancel is not None:
        kind.cancel(job)
        _job_finish(job.pk, JobStatus.CANCELLED, phase="cancelled")
        job.refresh_from_db()
    audit_record(
        actor=user, actor_label=who, action="job.cancel", target=f"job {job.pk} {job.kind}", result="requested"
    )
    return job


# --- running -------------------------------------------------------------------------------------


def _job_finish(job_id: int, status: str, *, phase: str = "", error: str = "") -> None:
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return
        job.status = status
        job.finished_at = timezone.now()
        if phase:
            job.phase = phase[:200]
        if error:
            job.errors = [*job.errors, error[:2000]][-200:]
        if status == JobStatus.SUCCEEDED and job.total:
            job.done = max(job.done, job.total)
        job.save()
        _lock_release(job_id)
    audit_record(
        actor=job.started_by,
        actor_label=job.started_by_label,
        action="job.finish",
        target=f"job {job.pk} {job.kind}",
        result=status if not error else f"{status}: {error}"[:200],
        counts=job.counts,
    )


@contextmanager
def _heartbeat(job_id: int) -> Iterator[None]:
    """Beat for the job from a thread while the block runs (the job may sit in one long call)."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(heartbeat_interval()):
                try:
                    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())
                except Exception:  # a busy database: the next beat tries again
                    logger.warning("job %s: heartbeat not recorded", job_id, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_execute(*, job_id: int, worker: str = "") -> str | None:
    """Run a queued job here and now; return its final status, or None when it was not queued
    (already run, running elsewhere, cancelled, missing: the message was a duplicate)."""
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        worker=(worker or worker_name())[:200],
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    job = Job.objects.get(pk=job_id)
    kind = job_kind_or_none(job.kind)
    if kind is None:
        _job_finish(job_id, JobStatus.FAILED, error=f"unknown job kind {job.kind!r} in this worker")
        return JobStatus.FAILED
    context = JobContext(job)
    status: str = JobStatus.SUCCEEDED
    error = ""
    with _heartbeat(job_id):
        try:
            context.check_cancel()
            kind.run(context, dict(job.params))
        except JobCancelled:
            status = JobStatus.CANCELLED
        except Exception as exc:  # every failure is reported on the job, with its reason
            logger.exception("job %s (%s) failed", job_id, job.kind)
            status, error = JobStatus.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            context._dirty = True
            try:
                context.flush()
            except JobCancelled:
                if status == JobStatus.SUCCEEDED and kind.sync is not None:
                    status = JobStatus.CANCELLED
    if status != JobStatus.SUCCEEDED and kind.cleanup is not None:
        _cleanup(kind, job_id)
    if status == JobStatus.SUCCEEDED and kind.sync is not None:
        return JobStatus.RUNNING  # outside work goes on; the watcher finishes the job
    _job_finish(job_id, status, phase="done" if status == JobStatus.SUCCEEDED else status, error=error)
    return status


def _cleanup(kind: JobKind, job_id: int) -> None:
    if kind.cleanup is None:
        return
    try:
        kind.cleanup(Job.objects.get(pk=job_id))
    except Exception:
        logger.exception("job %s: cleanup failed", job_id)


# --- watching ------------------------------------------------------------------------------------


def _silence_reason(job: Job) -> str:
    beat = job.heartbeat_at or job.started_at or job.created_at
    seconds = (timezone.now() - beat).total_seconds()
    return (
        f"worker {job.worker or '?'} stopped answering: no heartbeat for {seconds:.0f} s "
        f"(limit {heartbeat_timeout():g} s); the worker was killed or lost"
    )


def _job_abandon(job: Job, *, reason: str) -> None:
    """Mark a job whose worker died failed with the reason, and undo its partial work."""
    if not Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).exists():
        return
    kind = job_kind_or_none(job.kind)
    if kind is not None:
        _cleanup(kind, job.pk)
    _job_finish(job.pk, JobStatus.FAILED, phase="failed", error=reason)


@dataclass
class WatchReport:
    failed: int = 0
    resent: int = 0
    synced: int = 0


def jobs_watch() -> WatchReport:
    """Fail running jobs whose worker stopped beating, send again jobs queued longer than the
    heartbeat timeout (a lost message), and bring jobs tracking outside work up to date.

    Safe to call at any time from anywhere (pages, the beat schedule, a starting worker)."""
    report = WatchReport()
    limit = timezone.now() - timedelta(seconds=heartbeat_timeout())
    for job in Job.objects.filter(status=JobStatus.RUNNING):
        kind = job_kind_or_none(job.kind)
        if kind is not None and kind.sync is not None:
            try:
                kind.sync(job)
                report.synced += 1
            except Exception as error:
                logger.exception("job %s: sync failed", job.pk)
                _job_finish(job.pk, JobStatus.FAILED, error=f"{type(error).__name__}: {error}")
            continue
        beat = job.heartbeat_at or job.started_at or job.created_at
        if beat < limit:
            _job_abandon(job, reason=_silence_reason(job))
            report.failed += 1
    for job_id in Job.objects.filter(status=JobStatus.QUEUED, updated_at__lt=limit).values_list("pk", flat=True):
        Job.objects.filter(pk=job_id).update(updated_at=timezone.now())
        _enqueue(job_id)
        report.resent += 1
    return report


def job_sync_progress(
    job: Job, *, done: int, total: int, phase: str, counts: dict[str, Any], errors: list[str]
) -> None:
    """Write the progress of outside work (a harvest run) onto its job."""
    Job.objects.filter(pk=job.pk).update(
        done=done, total=total, phase=phase[:200], counts=counts, errors=errors[-200:], heartbeat_at=timezone.now()
    )


def job_complete(job: Job, *, succeeded: bool, error: str = "") -> None:
    """Finish a job whose outside work ended."""
    _job_finish(job.pk, JobStatus.SUCCEEDED if succeeded else JobStatus.FAILED, phase="done", error=error)


def job_run_inline(*, kind: str, params: Params | None = None, label: str = "command line") -> Job:
    """Start a job and run it in this process (the commands' default); return it finished.

    Holds the same lock as a queued job. Raises InvalidJobParams and JobConflict."""
    job = job_start(kind=kind, params=params, label=label, enqueue=False)
    job_execute(job_id=job.pk, worker=f"{worker_name()} (inline)")
    job.refresh_from_db()
    return job


# --- workers -------------------------------------------------------------------------------------


def worker_beat(*, hostname: str, started_at: Any) -> None:
    """Record that the worker ``hostname`` is alive now."""
    close_old_connections()
    WorkerBeat.objects.update_or_create(
        hostname=hostname[:200], defaults={"pid": os.getpid(), "started_at": started_at, "last_seen": timezone.now()}
    )


def worker_gone(*, hostname: str) -> None:
    """Forget a worker that shut down cleanly."""
    WorkerBeat.objects.filter(hostname=hostname[:200]).delete()


# --- sources -------------------------------------------------------------------------------------


def saved_query_save(*, name: str, query: str, datetype: str, user: UserLike | None) -> Any:
    """Create (or change the query of) a saved PubMed query; return it. Raises InvalidJobParams."""
    from ingest.models import DateType, SavedQuery

    name, query = name.strip(), query.strip()
    try:
        if not name or len(name) > 200:
            raise InvalidJobParams("a saved query needs a name of at most 200 characters")
        if not query or len(query) > 4000:
            raise InvalidJobParams("a saved query needs a PubMed query of at most 4000 characters")
        if datetype not in DateType.values:
            raise InvalidJobParams(f"datetype must be one of {', '.join(DateType.values)}")
    except InvalidJobParams as error:
        audit_record(actor=user, action="source.save", target=name[:200], result=f"refused: {error}")
        raise
    saved, created = SavedQuery.objects.update_or_create(name=name, defaults={"query": query, "datetype": datetype})
    audit_record(
        actor=user,
        action="source.save",
        target=f"saved query {name}",
        result="created" if created else "updated",
        query=query,
    )
    return saved


def job_wait(*, job_id: int, report: Any = None, poll_seconds: float = 1.0, timeout: float | None = None) -> Job:
    """Block until the job finishes and return it; ``report(job)`` is called after each poll.

    Watches jobs while it waits, so a job whose worker died ends failed instead of hanging.
    Raises TimeoutError after ``timeout`` seconds."""
    import time

    started = time.monotonic()
    while True:
        jobs_watch()
        job = Job.objects.get(pk=job_id)
        if report is not None:
            report(job)
        if not job.is_active:
            return job
        if timeout is not None and time.monotonic() - started > timeout:
            raise TimeoutError(f"job {job_id} did not finish within {timeout:g} s")
        time.sleep(poll_seconds)
