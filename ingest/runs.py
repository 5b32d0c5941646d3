"""Harvest runs as services: plan work items, do each one exactly once, resume what was lost.

Every step reads its work item, does its network or file work outside any transaction, then in
one transaction (with the run row locked) checks the item is still pending, stores the records,
adds to the run's counts and marks the item done. A step that dies before that commit leaves
the item pending and changes nothing; one that runs twice finds the item done and stops. Pending
items are enqueued again by :func:`run_resume` (a restarted worker and the ``--wait`` loop call
it), so a killed worker loses nothing and duplicates nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ingest.harvest import Window
from ingest.models import (
    DateType,
    HarvestRun,
    HarvestSource,
    ItemKind,
    ItemStatus,
    RunStatus,
    SavedQuery,
    WorkItem,
)

logger = logging.getLogger(__name__)

TASK_FOR_KIND = {
    ItemKind.WINDOW: "ingest.pubmed.search_window",
    ItemKind.BATCH: "ingest.pubmed.fetch_batch",
    ItemKind.FILE: "ingest.load_file",
    ItemKind.OAI_PAGE: "ingest.guidelines.oai_page",
    ItemKind.FEED: "ingest.guidelines.feed",
    ItemKind.DOCUMENT: "ingest.guidelines.document",
    ItemKind.USPSTF: "ingest.guidelines.uspstf",
}
MAX_ERRORS_KEPT = 200


def int_setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default) or default)


# --- starting and resuming ---------------------------------------------------------------------


def enqueue_items(item_ids: Iterable[tuple[int, str]]) -> None:
    from evidence_portal.celery import app

    sent = []
    for item_id, kind in item_ids:
        app.send_task(TASK_FOR_KIND[ItemKind(kind)], args=[item_id])
        sent.append(item_id)
    if sent:
        WorkItem.objects.filter(pk__in=sent).update(enqueued_at=timezone.now())


def enqueue_on_commit(items: Sequence[WorkItem]) -> None:
    pairs = [(item.pk, item.kind) for item in items]
    transaction.on_commit(lambda: enqueue_items(pairs))


def run_start_eutils(
    *, query: str, window: Window, datetype: str = DateType.MODIFICATION, saved_query: SavedQuery | None = None
) -> HarvestRun:
    """Create a run for ``query`` over ``window`` and enqueue its first search (after commit)."""
    if not query.strip():
        raise ValueError("a PubMed query is required")
    if datetype not in DateType.values:
        raise ValueError(f"datetype must be one of {', '.join(DateType.values)}, got {datetype!r}")
    with transaction.atomic():
        run = HarvestRun.objects.create(
            source=HarvestSource.EUTILS,
            saved_query=saved_query,
            query=query,
            datetype=datetype,
            window_start=window.start,
            window_end=window.end,
            status=RunStatus.RUNNING,
            started_at=timezone.now(),
        )
        root = WorkItem.objects.create(run=run, kind=ItemKind.WINDOW, key=window.key, payload=window.to_payload())
        enqueue_on_commit([root])
    return run


def run_start_files(
    *, paths: Sequence[str | Path], enqueue: bool = True, batch_size: int = 500, hand_off: bool = True
) -> HarvestRun:
    """Create a run that loads ``paths`` in the given order, and enqueue the first (after commit).

    Files are applied one after another, so a later update file's version of a record wins and
    its ``<DeleteCitation>`` entries apply after the records they delete were loaded. With
    ``enqueue=False`` nothing is sent to the broker (see :func:`run_files_inline`).
    """
    if not paths:
        raise ValueError("no files to load")
    missing = [str(path) for path in paths if not Path(path).is_file()]
    if missing:
        raise FileNotFoundError(f"not a readable file: {', '.join(missing)}")
    with transaction.atomic():
        run = HarvestRun.objects.create(
            source=HarvestSource.FILES,
            query="",
            status=RunStatus.RUNNING,
            started_at=timezone.now(),
        )
        items = [
            WorkItem.objects.create(
                run=run,
                kind=ItemKind.FILE,
                key=f"file:{index}:{Path(path).name}"[:255],
                sequence=index,
                payload={"path": str(Path(path).resolve()), "done": 0, "batch_size": batch_size, "hand_off": hand_off},
            )
            for index, path in enumerate(paths)
        ]
        if enqueue:
            enqueue_on_commit(items[:1])
    return run


def _resumable_items(run: HarvestRun) -> list[WorkItem]:
    pending = list(run.items.filter(status=ItemStatus.PENDING).order_by("sequence", "pk"))
    files = [item for item in pending if item.kind == ItemKind.FILE]
    others = [item for item in pending if item.kind != ItemKind.FILE]
    # Files go strictly in order: only the first pending one may run.
    return others + files[:1]


def run_resume(*, run_id: int) -> int:
    """Enqueue every pending work item of a running run again; return how many were sent.

    Safe to call at any time: an item that is already queued or running is done once, and the
    extra message finds it done and does nothing.
    """
    run = HarvestRun.objects.filter(pk=run_id).first()
    if run is None or run.is_finished:
        return 0
    items = _resumable_items(run)
    enqueue_items((item.pk, item.kind) for item in items)
    return len(items)


def runs_resume_all() -> int:
    """Resume every running run (a worker calls this when it starts); return items sent."""
    return sum(
        run_resume(run_id=run_id)
        for run_id in HarvestRun.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True)
    )


# --- shared bookkeeping ------------------------------------------------------------------------


def record_error(run: HarvestRun, where: str, message: str) -> None:
    run.errors = [*run.errors, {"at": timezone.now().isoformat(), "where": where, "error": message}][-MAX_ERRORS_KEPT:]


def item_lock(item_id: int) -> tuple[HarvestRun, WorkItem] | None:
    """Inside a transaction: lock the item's run, re-read the item; None if no longer pending."""
    item = WorkItem.objects.filter(pk=item_id).first()
    if item is None:
        return None
    run = HarvestRun.objects.select_for_update().get(pk=item.run_id)
    item = WorkItem.objects.select_for_update().get(pk=item_id)
    if item.status != ItemStatus.PENDING or run.is_finished:
        return None
    return run, item


def item_pending(item_id: int) -> WorkItem | None:
    item = WorkItem.objects.select_related("run").filter(pk=item_id).first()
    if item is None or item.status != ItemStatus.PENDING or item.run.is_finished:
        return None
    return item


def _after_successful_run(*, run_id: int, new_records: int) -> None:
    """Enqueue what follows a harvest: new-evidence alerts, and a retrain after a large one.

    Sent by task name, so ingest does not import the apps that own those tasks.
    """
    from evidence_portal.celery import app

    app.send_task("curation.compute_alerts")
    if new_records >= settings.DESIGN_CLASSIFIER_RETRAIN_AFTER:
        app.send_task("records.retrain_design_classifier")
    logger.info("run %s finished: alerts enqueued (%d new records)", run_id, new_records)


def _finish_if_complete(run: HarvestRun) -> None:
    if run.items.filter(status=ItemStatus.PENDING).exists():
        return
    failed_items = run.items.filter(status=ItemStatus.FAILED).exists()
    run.status = RunStatus.FAILED if failed_items or run.failed else RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    if run.status == RunStatus.SUCCEEDED:
        transaction.on_commit(lambda: _after_successful_run(run_id=run.pk, new_records=run.new))
    if run.status == RunStatus.SUCCEEDED and run.saved_query_id and run.datetype == DateType.MODIFICATION:
        saved = SavedQuery.objects.get(pk=run.saved_query_id)
        if run.window_end and (saved.checkpoint is None or saved.checkpoint < run.window_end):
            saved.checkpoint = run.window_end
            saved.save(update_fields=["checkpoint", "updated_at"])
    if run.status == RunStatus.SUCCEEDED and run.guideline_source_id and run.window_end:
        # An incremental OAI-PMH run: the source's next run starts ("from") at this one's "until".
        from guidelines.models import GuidelineSource

        source = GuidelineSource.objects.filter(pk=run.guideline_source_id).first()
        if source is not None and (source.checkpoint is None or source.checkpoint < run.window_end):
            source.checkpoint = run.window_end
            source.save(update_fields=["checkpoint", "updated_at"])


def item_save(run: HarvestRun, item: WorkItem) -> None:
    item.save()
    _finish_if_complete(run)
    run.save()


def item_fail(*, item_id: int, error: str) -> None:
    """Mark a work item failed for good (retries exhausted, or an error retrying cannot fix)."""
    with transaction.atomic():
        locked = item_lock(item_id)
        if locked is None:
            return
        run, item = locked
        item.status = ItemStatus.FAILED
        item.error = error
        if item.kind == ItemKind.BATCH:
            run.failed += len(item.payload.get("pmids", []))
        else:
            run.failed += 1
        record_error(run, item.key, error)
        item_save(run, item)
    logger.error("harvest run %s: %s failed: %s", item.run_id, item.key, error)


def item_attempted(*, item_id: int) -> int:
    """Count one more attempt at an item (shown in the admin); return the attempts so far."""
    WorkItem.objects.filter(pk=item_id).update(attempts=F("attempts") + 1)
    return int(WorkItem.objects.filter(pk=item_id).values_list("attempts", flat=True).first() or 0)


def run_retry_delay(*, retries: int) -> float:
    """Return the delay before retry number ``retries + 1``: exponential, capped, with jitter."""
    base = float(getattr(settings, "EUTILS_RETRY_BASE_SECONDS", 2.0))
    cap = float(getattr(settings, "EUTILS_RETRY_MAX_SECONDS", 300.0))
    delay = min(cap, base * (2**retries))
    return delay / 2 + random.uniform(0, delay / 2)


def run_stall_seconds() -> float:
    return float(getattr(settings, "INGEST_STALL_SECONDS", 120))


# --- waiting -------------------------------------------------------------------------------------


def _progress_mark(run: HarvestRun) -> tuple[int, ...]:
    done = run.items.exclude(status=ItemStatus.PENDING).count()
    return (done, run.items.count(), run.fetched, run.new + run.updated + run.unchanged + run.deleted)


def run_wait(
    *, run_id: int, poll_seconds: float = 1.0, stall_seconds: float | None = None, timeout: float | None = None
) -> HarvestRun:
    """Block until the run finishes and return it; re-enqueue its pending items when it stalls.

    A run stalls when its worker died with messages the broker will not deliver again (the
    embedded SQLAlchemy broker drops a killed worker's unacknowledged message). Raises
    ``TimeoutError`` after ``timeout`` seconds.
    """
    import time

    stall = run_stall_seconds() if stall_seconds is None else stall_seconds
    started = last_change = time.monotonic()
    mark: tuple[int, ...] = ()
    while True:
        run = HarvestRun.objects.get(pk=run_id)
        if run.is_finished:
            return run
        now = time.monotonic()
        current = _progress_mark(run)
        if current != mark:
            mark, last_change = current, now
        elif now - last_change >= stall:
            sent = run_resume(run_id=run_id)
            logger.warning("run %s made no progress for %.0f s: re-enqueued %d pending items", run_id, stall, sent)
            last_change = now
        if timeout is not None and now - started > timeout:
            raise TimeoutError(f"run {run_id} did not finish within {timeout:g} s")
        time.sleep(poll_seconds)
