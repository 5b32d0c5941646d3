"""Celery tasks of the harvest: thin adapters from a work item id onto ``ingest.steps``.

Each task takes one work item id (a JSON integer), is idempotent (a done or missing item is a
no-op), acknowledges late, and retries with exponential backoff and jitter only on transient
E-utilities failures (429, 5xx, timeouts, truncated bodies) or, for guideline harvests
(``ingest.guidelines.*``), on ``TransientFetchError``. Anything else marks the item failed with
its reason. When a worker starts it re-enqueues the pending items of running runs, so a
run whose worker was killed carries on.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings

from ingest import runs, steps
from ingest.eutils import EutilsError, TransientEutilsError

logger = logging.getLogger(__name__)

TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
}


def _run_step(
    task: Task,
    step: Any,
    item_id: int,
    *,
    transient: tuple[type[Exception], ...] = (TransientEutilsError,),
    permanent: tuple[type[Exception], ...] = (EutilsError,),
) -> None:
    attempts = runs.item_attempted(item_id=item_id)
    try:
        step(item_id=item_id)
    except transient as error:
        max_retries = int(getattr(settings, "EUTILS_MAX_RETRIES", 8))
        if task.request.retries >= max_retries:
            runs.item_fail(item_id=item_id, error=f"gave up after {max_retries} retries: {error}")
            return
        delay = runs.run_retry_delay(retries=task.request.retries)
        logger.warning("item %s: %s; retry %d in %.1f s", item_id, error, task.request.retries + 1, delay)
        raise task.retry(countdown=delay, max_retries=max_retries) from None
    except permanent as error:
        runs.item_fail(item_id=item_id, error=str(error))
    except (OSError, ValueError) as error:
        runs.item_fail(item_id=item_id, error=f"{type(error).__name__}: {error}")
    except Exception as error:
        # An unexpected error (a bug, a database hiccup): leave the item pending so a resume
        # tries again, but give up on it once it has failed as often as a transient error may.
        if attempts > int(getattr(settings, "EUTILS_MAX_RETRIES", 8)):
            runs.item_fail(item_id=item_id, error=f"{type(error).__name__}: {error}")
            return
        raise


@shared_task(name="ingest.pubmed.search_window", soft_time_limit=300, time_limit=360, **TASK_OPTIONS)
def search_window(self: Task, item_id: int) -> None:
    """Search one date window of a run (split it, or plan its fetch batches)."""
    _run_step(self, steps.window_search, item_id)


@shared_task(name="ingest.pubmed.fetch_batch", soft_time_limit=300, time_limit=360, **TASK_OPTIONS)
def fetch_batch(self: Task, item_id: int) -> None:
    """Fetch, parse and store one batch of PMIDs of a run."""
    _run_step(self, steps.batch_fetch, item_id)


@shared_task(name="ingest.load_file", soft_time_limit=3600, time_limit=3720, **TASK_OPTIONS)
def load_file(self: Task, item_id: int) -> None:
    """Load one PubMed XML or MEDLINE file of a run, then enqueue the run's next file."""
    _run_step(self, steps.file_load, item_id)


def _guideline_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """Return the transient and the permanent errors of guideline harvests (imported late, so a
    worker starts even where a reader module is missing)."""
    from ingest.guidelines.client import FetchError, TransientFetchError
    from ingest.guidelines.oai import OaiError

    return (TransientFetchError,), (OaiError, FetchError)


def _run_guideline_step(task: Task, step_name: str, item_id: int) -> None:
    from ingest.guidelines import steps as guideline_steps

    transient, permanent = _guideline_errors()
    _run_step(task, getattr(guideline_steps, step_name), item_id, transient=transient, permanent=permanent)


@shared_task(name="ingest.guidelines.oai_page", soft_time_limit=300, time_limit=360, **TASK_OPTIONS)
def guidelines_oai_page(self: Task, item_id: int) -> None:
    """Fetch and store one OAI-PMH page of a guideline run, and plan the next page."""
    _run_guideline_step(self, "oai_page", item_id)


@shared_task(name="ingest.guidelines.feed", soft_time_limit=300, time_limit=360, **TASK_OPTIONS)
def guidelines_feed(self: Task, item_id: int) -> None:
    """Read a guideline feed and plan a document item for each new entry."""
    _run_guideline_step(self, "feed_read", item_id)


@shared_task(name="ingest.guidelines.document", soft_time_limit=300, time_limit=360, **TASK_OPTIONS)
def guidelines_document(self: Task, item_id: int) -> None:
    """Fetch, split and store one guideline document (HTML, PDF, DOCX)."""
    _run_guideline_step(self, "document_fetch", item_id)


@shared_task(name="ingest.guidelines.uspstf", soft_time_limit=600, time_limit=660, **TASK_OPTIONS)
def guidelines_uspstf(self: Task, item_id: int) -> None:
    """Read and store a USPSTF Prevention TaskForce API JSON file or URL."""
    _run_guideline_step(self, "uspstf_read", item_id)


@shared_task(
    name="ingest.guidelines.harvest_due",
    bind=True,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
)
def guidelines_harvest_due(self: Task) -> list[int]:
    """Start a run of every enabled guideline source whose interval has passed; return the run ids."""
    from ingest.guidelines.runs import guideline_sources_harvest_due

    return guideline_sources_harvest_due(started_by="schedule")


@shared_task(
    name="ingest.guidelines.harvest_source",
    bind=True,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
)
def guidelines_harvest_source(self: Task, source_id: int, started_by: str = "") -> int | None:
    """Start a run of one configured guideline source; return the run id (None: no such source)."""
    from ingest.guidelines.runs import GuidelineRunError, guideline_source_harvest

    try:
        return guideline_source_harvest(source_id=source_id, started_by=started_by)
    except GuidelineRunError as error:
        logger.warning("guideline source %s not harvested: %s", source_id, error)
        return None


@shared_task(
    name="ingest.resume_runs", bind=True, acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90
)
def resume_runs(self: Task) -> int:
    """Enqueue the pending items of every running run again (safe to run at any time)."""
    return runs.runs_resume_all()


@worker_ready.connect
def _resume_on_worker_start(**_: Any) -> None:
    try:
        sent = runs.runs_resume_all()
    except Exception:  # a worker must start even when the database is not migrated yet
        logger.exception("could not resume harvest runs at worker start")
        return
    if sent:
        logger.info("re-enqueued %d pending harvest items at worker start", sent)
