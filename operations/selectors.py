"""Reads of the operations area: the state at a glance, jobs and their progress, history, audit."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from operations.models import ACTIVE_STATUSES, AuditEntry, Job, JobStatus, WorkerBeat
from operations.registry import job_kind
from operations.services import heartbeat_timeout, job_kind_or_none

DISK_CACHE_SECONDS = 60.0
_disk_lock = threading.Lock()
_disk_cache: dict[str, tuple[float, int]] = {}


def _generation_built(name: str | None) -> str | None:
    """Generation names end in g<nanoseconds since the epoch> on both backends."""
    if not name or "g" not in name:
        return None
    digits = name.rsplit("g", 1)[1]
    if not digits.isdigit():
        return None
    return datetime.fromtimestamp(int(digits) / 1e9, tz=UTC).isoformat(timespec="seconds")


def data_dir_bytes(path: Path | None = None) -> int:
    """Return the bytes used under the data folder (cached for a minute: the walk is not free)."""
    root = Path(path or settings.EVIDENCE_DATA_DIR)
    key = str(root)
    with _disk_lock:
        cached = _disk_cache.get(key)
        if cached and time.monotonic() - cached[0] < DISK_CACHE_SECONDS:
            return cached[1]
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # removed while walking (a dropped generation)
    with _disk_lock:
        _disk_cache[key] = (time.monotonic(), total)
    return total


def broker_health(timeout: float = 2.0) -> dict[str, Any]:
    """Return whether the Celery broker accepts a connection."""
    from evidence_portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return {"ok": True, "url": app.connection_for_write().as_uri()}
    except Exception as error:  # any transport error means "down"
        return {"ok": False, "detail": f"{type(error).__name__}: {error}"}


def workers_health() -> list[dict[str, Any]]:
    """Return each worker seen in the last day, down when silent for the heartbeat timeout."""
    now = timezone.now()
    limit = now - timedelta(seconds=heartbeat_timeout())
    return [
        {
            "hostname": beat.hostname,
            "up": beat.last_seen >= limit,
            "last_seen": beat.last_seen.isoformat(timespec="seconds"),
            "seconds_silent": round((now - beat.last_seen).total_seconds(), 1),
        }
        for beat in WorkerBeat.objects.filter(last_seen__gte=now - timedelta(days=1)).order_by("hostname")
    ]


@dataclass
class IndexState:
    backend: str
    ok: bool
    detail: str
    live_generation: str | None
    built_at: str | None
    documents: int
    vectors: int
    vector_model: str | None
    vector_dimension: int | None
    generations: list[str] = field(default_factory=list)


def index_state() -> IndexState:
    from search.backends import get_backend

    backend = get_backend()
    try:
        health = backend.health()
        live = backend.live_generation()
        space = backend.vector_space()
        generations = backend.generations()
    except Exception as error:  # an unreachable backend is shown as down, not a 500
        return IndexState(
            settings.SEARCH_DEFAULT_BACKEND, False, f"{type(error).__name__}: {error}", None, None, 0, 0, None, None
        )
    return IndexState(
        backend=settings.SEARCH_DEFAULT_BACKEND,
        ok=health.ok,
        detail=health.detail,
        live_generation=live,
        built_at=_generation_built(live),
        documents=health.documents,
        vectors=health.vectors,
        vector_model=space[0] if space else None,
        vector_dimension=space[1] if space else None,
        generations=generations,
    )


def last_harvests() -> list[dict[str, Any]]:
    """Return the latest harvest run of each saved query (and of bulk files), with its counts."""
    from ingest.models import HarvestRun, SavedQuery

    out: list[dict[str, Any]] = []
    sources: list[tuple[str, HarvestRun | None]] = [
        (f"PubMed: {saved.name}", saved.runs.order_by("-created_at").first())
        for saved in SavedQuery.objects.order_by("name")
    ]
    sources.append(
        (gettext("PubMed bulk files"), HarvestRun.objects.filter(source="files").order_by("-created_at").first())
    )
    for name, run in sources:
        if run is None:
            out.append({"source": name, "run": None})
            continue
        out.append(
            {
                "source": name,
                "run": run.pk,
                "status": run.status,
                "at": (run.finished_at or run.started_at or run.created_at).isoformat(timespec="seconds"),
                "counts": {n: getattr(run, n) for n in ("found", "fetched", "new", "updated", "deleted", "failed")},
            }
        )
    return out


def ops_state() -> dict[str, Any]:
    """Return what the operations page shows at a glance (and ``manage.py status --json``)."""
    from records.evidence.artifacts import current_version
    from records.models import EvidenceRecord

    index = index_state()
    records = EvidenceRecord.objects.filter(deleted_at__isnull=True, superseded=False).count()
    active = Job.objects.filter(status__in=ACTIVE_STATUSES).order_by("created_at")
    return {
        "index": asdict(index),
        "records": {"database": records, "indexed": index.documents, "difference": records - index.documents},
        "embedding": {
            "configured_model": settings.EMBEDDING_MODEL,
            "runtime": settings.EMBEDDING_RUNTIME,
            "live_model": index.vector_model,
            "dimension": index.vector_dimension,
            "max_tokens": settings.EMBEDDING_MAX_TOKENS,
        },
        "classifier_version": current_version(),
        "harvests": last_harvests(),
        "jobs": {
            "queued": [job_summary(j) for j in active if j.status == JobStatus.QUEUED],
            "running": [job_summary(j) for j in active if j.status == JobStatus.RUNNING],
        },
        "broker": broker_health(),
        "workers": workers_health(),
        "data_dir": {"path": str(settings.EVIDENCE_DATA_DIR), "bytes": data_dir_bytes()},
    }


def job_label(job: Job) -> str:
    """The kind's label in the active language (English outside a request)."""
    kind = job_kind_or_none(job.kind)
    return gettext(kind.label) if kind else job.kind


def job_summary(job: Job) -> dict[str, Any]:
    """Return a job as JSON primitives, with its progress (percent, rate, seconds left)."""
    percent = 100.0 if job.status == JobStatus.SUCCEEDED else (100.0 * job.done / job.total if job.total else 0.0)
    left = (job.total - job.done) / job.rate if job.rate > 0 and job.total > job.done and job.is_active else None
    kind = job_kind_or_none(job.kind)
    described = kind.describe(job.params) if kind is not None and kind.describe is not None else ""
    return {
        "id": job.pk,
        "kind": job.kind,
        "label": job_label(job),
        "description": described,
        "params": job.params,
        "status": job.status,
        "status_text": gettext(job.status),
        "active": job.is_active,
        "phase": job.phase,
        "done": job.done,
        "total": job.total,
        "percent": round(min(percent, 100.0), 1),
        "rate": round(job.rate, 2),
        "seconds_left": round(left, 1) if left is not None else None,
        "seconds_left_text": (gettext("%(seconds)s s left") % {"seconds": round(left, 1)} if left is not None else ""),
        "counts": job.counts,
        "errors": job.errors[-50:],
        "result": job.result,
        "cancel_requested": job.cancel_requested,
        "started_by": job.started_by_label,
        "worker": job.worker,
        "created_at": job.created_at.isoformat(timespec="seconds"),
        "started_at": job.started_at.isoformat(timespec="seconds") if job.started_at else None,
        "finished_at": job.finished_at.isoformat(timespec="seconds") if job.finished_at else None,
        "duration_seconds": round(job.duration_seconds, 1) if job.duration_seconds is not None else None,
    }


def job_search(*, text: str = "", kind: str = "", status: str = "") -> QuerySet[Job]:
    """Return jobs, newest first, whose kind, starter, parameters, phase or errors contain ``text``."""
    jobs = Job.objects.all()
    if kind:
        jobs = jobs.filter(kind=kind)
    if status:
        jobs = jobs.filter(status=status)
    text = text.strip()
    if text:
        query = (
            Q(kind__icontains=text)
            | Q(started_by_label__icontains=text)
            | Q(phase__icontains=text)
            | Q(params__icontains=text)
            | Q(errors__icontains=text)
            | Q(result__icontains=text)
        )
        if text.isdigit():
            query |= Q(pk=int(text))
        jobs = jobs.filter(query)
    return jobs.order_by("-created_at", "-pk")


def audit_search(*, text: str = "") -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    text = text.strip()
    if text:
        entries = entries.filter(
            Q(actor_label__icontains=text)
            | Q(action__icontains=text)
            | Q(target__icontains=text)
            | Q(result__icontains=text)
        )
    return entries.order_by("-at", "-pk")


def kind_label(name: str) -> str:
    return job_kind(name).label
