"""The built-in job kinds: rebuild the index, re-embed, repair drift, regrade, retrain, harvest.

Each is a thin adapter from a job's parameters onto the service that already does the work
(``search.indexing``, ``records.evidence.services``, ``ingest.runs``), reporting progress through
the job's context.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.conf import settings
from django.db import models

from operations.context import JobContext
from operations.models import Job
from operations.registry import InvalidJobParams, JobKind, Params, register_job_kind

logger = logging.getLogger(__name__)

INDEX_LOCK = "search-index"
MAX_BATCH = 5000


def _int_param(params: Params, name: str, default: int, *, low: int, high: int) -> int:
    raw = params.get(name, default)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidJobParams(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise InvalidJobParams(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool_param(params: Params, name: str) -> bool:
    raw = params.get(name, False)
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("1", "true", "on", "yes"):
        return True
    if str(raw).lower() in ("", "0", "false", "off", "no"):
        return False
    raise InvalidJobParams(f"{name} must be true or false, got {raw!r}")


# --- index ----------------------------------------------------------------------------------------


def _clean_rebuild(params: Params) -> Params:
    return {"batch_size": _int_param(params, "batch_size", 500, low=1, high=MAX_BATCH)}


def _after_rebuild(context: JobContext, report: Any) -> None:
    from search.backends import get_backend
    from search.models import IndexEntry

    context.set_counts(
        indexed=report.indexed,
        with_vectors=report.with_vectors,
        caught_up=report.caught_up,
        dropped=len(report.dropped),
    )
    context.set_result(generation=report.generation, model=report.model, live_after=get_backend().live_generation())
    pending = IndexEntry.objects.vector_pending().count()
    if pending:
        from evidence_portal.celery import app

        app.send_task("search.embed_pending", kwargs={"limit": pending})
        context.set_counts(vectors_pending=pending)


def _run_rebuild(context: JobContext, params: Params) -> None:
    from search.backends import get_backend
    from search.indexing import rebuild_index

    context.set_result(live_before=get_backend().live_generation())
    report = rebuild_index(
        batch_size=int(params.get("batch_size", 500)),
        progress=context.progress,
        on_generation=lambda name: context.set_result(generation=name),
    )
    _after_rebuild(context, report)


def _drop_partial_generation(job: Job) -> None:
    """Drop the generation a cancelled, failed or abandoned rebuild was filling (never the live one)."""
    from search.backends import get_backend

    name = job.result.get("generation")
    backend = get_backend()
    if name and name in backend.generations() and backend.live_generation() != name:
        backend.drop_generation(name)
        logger.info("job %s: dropped partial generation %s", job.pk, name)


def _clean_reembed(params: Params) -> Params:
    from search.embeddings import RUNTIMES

    model = str(params.get("model") or "").strip()
    if not model:
        raise InvalidJobParams("a model name is required (a sentence-transformers name or path)")
    if len(model) > 200 or any(c.isspace() for c in model):
        raise InvalidJobParams("the model name must be one word of at most 200 characters")
    runtime = str(params.get("runtime") or settings.EMBEDDING_RUNTIME)
    if runtime not in RUNTIMES:
        raise InvalidJobParams(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    return {"model": model, "runtime": runtime, **_clean_rebuild(params)}


def _run_reembed(context: JobContext, params: Params) -> None:
    from search.backends import get_backend
    from search.embeddings import get_embedder
    from search.indexing import rebuild_index

    context.set_result(live_before=get_backend().live_generation())
    context.progress(f"loading {params['model']} ({params['runtime']})", 0, 0)
    embedder = get_embedder(params["model"], params["runtime"])
    context.set_result(model=embedder.model_name, dimension=embedder.dimension, runtime=embedder.runtime)
    report = rebuild_index(
        embedder=embedder,
        embed_all=True,
        batch_size=int(params.get("batch_size", 500)),
        progress=context.progress,
        on_generation=lambda name: context.set_result(generation=name),
    )
    _after_rebuild(context, report)


def _run_repair(context: JobContext, params: Params) -> None:
    from search.indexing import reconcile_index

    context.progress("comparing the index with the database", 0, 1)
    report = reconcile_index(repair=True)
    context.set_counts(
        database=report.database,
        indexed=report.indexed,
        missing=len(report.missing),
        extra=len(report.extra),
        stale=len(report.stale),
    )
    context.set_result(repaired=report.repaired, in_step_before=report.in_step)
    context.progress("done", 1, 1)


# --- grading --------------------------------------------------------------------------------------


def _clean_regrade(params: Params) -> Params:
    return {
        "only_unsettled": _bool_param(params, "only_unsettled"),
        "batch_size": _int_param(params, "batch_size", 500, low=1, high=MAX_BATCH),
    }


def _regrade(context: JobContext, *, only_unsettled: bool, batch_size: int, phase: str = "regrading") -> None:
    from records.evidence.services import record_id_batches, records_grade
    from search.indexing import records_index

    batches = list(record_id_batches(batch_size=batch_size, only_unsettled=only_unsettled))
    total = sum(len(b) for b in batches)
    done = 0
    context.progress(phase, 0, total)
    for batch in batches:
        context.count(graded=records_grade(record_ids=batch))
        report = records_index(record_ids=batch)
        context.count(reindexed=report.indexed)
        done += len(batch)
        context.progress(phase, done, total)


def _run_regrade(context: JobContext, params: Params) -> None:
    _regrade(context, only_unsettled=bool(params.get("only_unsettled")), batch_size=int(params.get("batch_size", 500)))


def _run_retrain(context: JobContext, params: Params) -> None:
    from records.evidence.artifacts import current_version
    from records.evidence.services import design_classifier_train

    context.set_result(version_before=current_version())
    context.progress("training the study-design classifier", 0, 0)
    trained = design_classifier_train()
    context.set_result(version=trained.result.version)
    context.set_result(training_counts=trained.result.metrics.get("counts", {}))
    _regrade(context, only_unsettled=True, batch_size=500, phase="regrading predicted and ungraded records")


# --- harvest --------------------------------------------------------------------------------------


def _clean_row_choice(params: Params, *, key: str, model: type[models.Model], what: str) -> Params:
    """Return ``{key: pk}`` for a parameter naming an existing row of ``model``; raise InvalidJobParams."""
    try:
        pk = int(params.get(key))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidJobParams(f"choose a {what}") from None
    if not model._default_manager.filter(pk=pk).exists():
        raise InvalidJobParams(f"no {what} {pk}")
    return {key: pk}


def _clean_harvest(params: Params) -> Params:
    from ingest.models import SavedQuery

    return _clean_row_choice(params, key="saved_query", model=SavedQuery, what="saved query")


def _run_harvest(context: JobContext, params: Params) -> None:
    from ingest.harvest import PUBMED_EPOCH, Window
    from ingest.models import DateType, SavedQuery
    from ingest.runs import run_start_eutils

    saved = SavedQuery.objects.get(pk=params["saved_query"])
    if not settings.NCBI_EMAIL and "ncbi.nlm.nih.gov" in str(settings.EUTILS_BASE_URL):
        raise InvalidJobParams("NCBI_EMAIL must be set to harvest from NCBI (NCBI asks for a contact address)")
    start = saved.checkpoint if saved.checkpoint and saved.datetype == DateType.MODIFICATION else PUBMED_EPOCH
    run = run_start_eutils(
        query=saved.query, window=Window(start, date.today()), datetype=saved.datetype, saved_query=saved
    )
    context.set_result(harvest_run=run.pk, saved_query=saved.name)
    context.progress(f"harvest run {run.pk}: searching", 0, 0)


def _sync_harvest(job: Job) -> None:
    from ingest.models import HarvestRun, ItemStatus, RunStatus
    from ingest.runs import run_resume, run_stall_seconds
    from operations.services import job_complete, job_sync_progress

    run = HarvestRun.objects.filter(pk=job.result.get("harvest_run")).first()
    if run is None:
        job_complete(job, succeeded=False, error="its harvest run is gone")
        return
    items = run.items.count()
    done = run.items.exclude(status=ItemStatus.PENDING).count()
    counts = {
        name: getattr(run, name) for name in ("found", "fetched", "new", "updated", "unchanged", "deleted", "failed")
    }
    errors = [f"{e.get('where', '')}: {e.get('error', '')}" for e in run.errors]
    job_sync_progress(
        job, done=done, total=items, phase=f"harvest run {run.pk}: {run.status}", counts=counts, errors=errors
    )
    if run.is_finished:
        job_complete(
            job,
            succeeded=run.status == RunStatus.SUCCEEDED,
            error="" if run.status == RunStatus.SUCCEEDED else f"harvest run {run.pk} failed",
        )
        return
    from django.utils import timezone

    if (timezone.now() - run.updated_at).total_seconds() > run_stall_seconds():
        run_resume(run_id=run.pk)  # a killed worker's items are sent again (ingest's own resume)


def _cancel_harvest(job: Job) -> None:
    from django.utils import timezone

    from ingest.models import HarvestRun, RunStatus

    HarvestRun.objects.filter(pk=job.result.get("harvest_run"), status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED, finished_at=timezone.now()
    )


def _describe_row_choice(params: Params, *, key: str, model: type[models.Model], what: str) -> str:
    """Name the row a parameter chose (``saved query 'Statins'``), or its id when it is gone."""
    row = model._default_manager.filter(pk=int(params.get(key) or 0)).first()
    return f"{what} {row.name!r}" if row else f"{what} {params.get(key)}"  # type: ignore[attr-defined]


def _describe_harvest(params: Params) -> str:
    from ingest.models import SavedQuery

    return _describe_row_choice(params, key="saved_query", model=SavedQuery, what="saved query")


def _clean_guideline_source(params: Params) -> Params:
    from guidelines.models import GuidelineSource

    return _clean_row_choice(params, key="source", model=GuidelineSource, what="guideline source")


def _run_guideline_source(context: JobContext, params: Params) -> None:
    from ingest.guidelines.runs import guideline_source_harvest

    run_id = guideline_source_harvest(source_id=int(params["source"]), started_by=f"operations job {context.job_id}")
    context.set_result(harvest_run=run_id, guideline_source=int(params["source"]))
    context.progress(f"harvest run {run_id}: started", 0, 0)


def _describe_guideline_source(params: Params) -> str:
    from guidelines.models import GuidelineSource

    return _describe_row_choice(params, key="source", model=GuidelineSource, what="guideline source")


REBUILD = register_job_kind(
    JobKind(
        name="rebuild_index",
        label="Rebuild the index",
        run=_run_rebuild,
        clean=_clean_rebuild,
        lock=INDEX_LOCK,
        cleanup=_drop_partial_generation,
        schedulable=True,
    )
)
REEMBED = register_job_kind(
    JobKind(
        name="reembed",
        label="Re-embed with another model",
        run=_run_reembed,
        clean=_clean_reembed,
        lock=INDEX_LOCK,
        cleanup=_drop_partial_generation,
        describe=lambda p: f"{p.get('model')} ({p.get('runtime')})",
    )
)
REPAIR = register_job_kind(
    JobKind(name="repair_index", label="Repair index drift", run=_run_repair, lock=INDEX_LOCK, schedulable=True)
)
REGRADE = register_job_kind(
    JobKind(
        name="regrade",
        label="Regrade evidence",
        run=_run_regrade,
        clean=_clean_regrade,
        lock="grading",
        schedulable=True,
    )
)
RETRAIN = register_job_kind(
    JobKind(
        name="retrain_classifier",
        label="Retrain the study-design classifier",
        run=_run_retrain,
        lock="grading",
        schedulable=True,
    )
)
HARVEST = register_job_kind(
    JobKind(
        name="harvest_pubmed",
        label="Harvest a saved PubMed query",
        run=_run_harvest,
        clean=_clean_harvest,
        sync=_sync_harvest,
        cancel=_cancel_harvest,
        schedulable=True,
        describe=_describe_harvest,
    )
)
GUIDELINE_SOURCE = register_job_kind(
    JobKind(
        name="harvest_guideline_source",
        label="Harvest a guideline source",
        run=_run_guideline_source,
        clean=_clean_guideline_source,
        sync=_sync_harvest,
        cancel=_cancel_harvest,
        schedulable=True,
        describe=_describe_guideline_source,
    )
)
