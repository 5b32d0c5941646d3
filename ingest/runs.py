"""Harvest runs as services: plan work items, do each one exactly once, resume what was lost.

Every step reads its work item, does its network or file work outside any transaction, then in
one transaction (with the run row locked) checks the item is still pending, stores the records,
adds to the run's counts and marks the item done. A step that dies before that commit leaves
the item pending and changes nothing; one that runs twice finds the item done and stops. Pending
items are enqueued again by :func:`run_resume` (a restarted worker and the ``--wait`` loop call
it), so a killed worker loses nothing and duplicates nothing.
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ingest import eutils
from ingest.harvest import Window, batches, can_split, split_window
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
from records.types import DeletedCitation, ParsedRecord, ParseProblem

logger = logging.getLogger(__name__)

TASK_FOR_KIND = {
    ItemKind.WINDOW: "ingest.pubmed.search_window",
    ItemKind.BATCH: "ingest.pubmed.fetch_batch",
    ItemKind.FILE: "ingest.load_file",
}
MAX_ERRORS_KEPT = 200


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default) or default)


# --- starting and resuming ---------------------------------------------------------------------


def _enqueue(item_ids: Iterable[tuple[int, str]]) -> None:
    from evidence_portal.celery import app

    sent = []
    for item_id, kind in item_ids:
        app.send_task(TASK_FOR_KIND[ItemKind(kind)], args=[item_id])
        sent.append(item_id)
    if sent:
        WorkItem.objects.filter(pk__in=sent).update(enqueued_at=timezone.now())


def _enqueue_on_commit(items: Sequence[WorkItem]) -> None:
    pairs = [(item.pk, item.kind) for item in items]
    transaction.on_commit(lambda: _enqueue(pairs))


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
        _enqueue_on_commit([root])
    return run


def run_start_files(*, paths: Sequence[str | Path], enqueue: bool = True) -> HarvestRun:
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
                payload={"path": str(Path(path).resolve()), "done": 0},
            )
            for index, path in enumerate(paths)
        ]
        if enqueue:
            _enqueue_on_commit(items[:1])
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
    _enqueue((item.pk, item.kind) for item in items)
    return len(items)


def runs_resume_all() -> int:
    """Resume every running run (a worker calls this when it starts); return items sent."""
    return sum(
        run_resume(run_id=run_id)
        for run_id in HarvestRun.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True)
    )


# --- shared bookkeeping ------------------------------------------------------------------------


def _error(run: HarvestRun, where: str, message: str) -> None:
    run.errors = [*run.errors, {"at": timezone.now().isoformat(), "where": where, "error": message}][-MAX_ERRORS_KEPT:]


def _lock(item_id: int) -> tuple[HarvestRun, WorkItem] | None:
    """Inside a transaction: lock the item's run, re-read the item; None if no longer pending."""
    item = WorkItem.objects.filter(pk=item_id).first()
    if item is None:
        return None
    run = HarvestRun.objects.select_for_update().get(pk=item.run_id)
    item = WorkItem.objects.select_for_update().get(pk=item_id)
    if item.status != ItemStatus.PENDING or run.is_finished:
        return None
    return run, item


def _pending(item_id: int) -> WorkItem | None:
    item = WorkItem.objects.select_related("run").filter(pk=item_id).first()
    if item is None or item.status != ItemStatus.PENDING or item.run.is_finished:
        return None
    return item


def _finish_if_complete(run: HarvestRun) -> None:
    if run.items.filter(status=ItemStatus.PENDING).exists():
        return
    failed_items = run.items.filter(status=ItemStatus.FAILED).exists()
    run.status = RunStatus.FAILED if failed_items or run.failed else RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    if run.status == RunStatus.SUCCEEDED and run.saved_query_id and run.datetype == DateType.MODIFICATION:
        saved = SavedQuery.objects.get(pk=run.saved_query_id)
        if run.window_end and (saved.checkpoint is None or saved.checkpoint < run.window_end):
            saved.checkpoint = run.window_end
            saved.save(update_fields=["checkpoint", "updated_at"])


def _save(run: HarvestRun, item: WorkItem) -> None:
    item.save()
    _finish_if_complete(run)
    run.save()


def item_fail(*, item_id: int, error: str) -> None:
    """Mark a work item failed for good (retries exhausted, or an error retrying cannot fix)."""
    with transaction.atomic():
        locked = _lock(item_id)
        if locked is None:
            return
        run, item = locked
        item.status = ItemStatus.FAILED
        item.error = error
        if item.kind == ItemKind.BATCH:
            run.failed += len(item.payload.get("pmids", []))
        else:
            run.failed += 1
        _error(run, item.key, error)
        _save(run, item)
    logger.error("harvest run %s: %s failed: %s", item.run_id, item.key, error)


def item_attempted(*, item_id: int) -> int:
    """Count one more attempt at an item (shown in the admin); return the attempts so far."""
    WorkItem.objects.filter(pk=item_id).update(attempts=F("attempts") + 1)
    return int(WorkItem.objects.filter(pk=item_id).values_list("attempts", flat=True).first() or 0)


# --- storing parsed items ----------------------------------------------------------------------


@dataclass
class Stored:
    """What storing one chunk of parsed items did."""

    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    problems: int = 0


def _store(run: HarvestRun, parsed: Sequence[Any], *, where: str) -> tuple[Stored, list[int]]:
    """Upsert records and tombstone deletions in order; add counts to ``run``; return changed ids."""
    from records.services import records_tombstone, records_upsert_batch

    stored = Stored()
    changed: list[int] = []
    now = timezone.now()
    records: list[ParsedRecord] = []

    def flush() -> None:
        if not records:
            return
        result = records_upsert_batch(parsed=list(records), harvested_at=now)
        stored.new += result.new
        stored.updated += result.updated
        stored.unchanged += result.unchanged
        changed.extend(result.changed_ids)
        records.clear()

    for entry in parsed:
        if isinstance(entry, ParsedRecord):
            stored.read += 1
            records.append(entry)
        elif isinstance(entry, DeletedCitation):
            # Apply deletions after the records before them, so a record and its deletion in
            # one file end deleted.
            flush()
            tombstoned = records_tombstone(source=entry.source, source_ids=[entry.source_id], deleted_at=now)
            stored.deleted += len(tombstoned)
            changed.extend(tombstoned)
        elif isinstance(entry, ParseProblem):
            stored.problems += 1
            _error(run, entry.source_id or entry.location or where, entry.reason)
    flush()
    run.new += stored.new
    run.updated += stored.updated
    run.unchanged += stored.unchanged
    run.deleted += stored.deleted
    run.failed += stored.problems
    return stored, changed


def _hand_off(changed: list[int]) -> None:
    if changed:
        from ingest.pipeline import records_changed

        ids = list(changed)
        transaction.on_commit(lambda: records_changed(ids))


# --- the steps ----------------------------------------------------------------------------------


def window_search(*, item_id: int) -> None:
    """Search one date window: split it if it holds more than esearch hands out, else plan
    batches of its PMIDs. Raises ``eutils.TransientEutilsError`` for the task to retry."""
    item = _pending(item_id)
    if item is None:
        return
    run = item.run
    window = Window.from_payload(item.payload)
    cap = eutils.ESEARCH_CAP
    page = min(_setting("EUTILS_ESEARCH_PAGE", cap), cap)
    hinted_large = int(item.payload.get("parent_count", 0)) > 2 * cap and can_split(window)
    first = eutils.esearch(
        term=run.query, datetype=run.datetype, start=window.start, end=window.end, retmax=0 if hinted_large else page
    )
    if first.count > cap and can_split(window):
        with transaction.atomic():
            locked = _lock(item_id)
            if locked is None:
                return
            run, item = locked
            children = []
            for part in split_window(window):
                child, _ = WorkItem.objects.get_or_create(
                    run=run,
                    key=part.key,
                    defaults={"kind": ItemKind.WINDOW, "payload": {**part.to_payload(), "parent_count": first.count}},
                )
                children.append(child)
            item.status = ItemStatus.DONE
            item.payload = {**item.payload, "count": first.count, "split": True}
            _save(run, item)
            _enqueue_on_commit([child for child in children if child.status == ItemStatus.PENDING])
        return

    wanted = min(first.count, cap)
    ids = list(first.ids)
    while len(ids) < wanted:
        page_ids = eutils.esearch(
            term=run.query,
            datetype=run.datetype,
            start=window.start,
            end=window.end,
            retstart=len(ids),
            retmax=min(page, wanted - len(ids)),
            history=first,
        ).ids
        if not page_ids:
            raise eutils.TransientEutilsError(f"esearch returned no ids at {len(ids)} of {wanted} for {window}")
        ids.extend(page_ids)
    ids = list(dict.fromkeys(ids))
    with transaction.atomic():
        locked = _lock(item_id)
        if locked is None:
            return
        run, item = locked
        run.found += first.count
        if first.count > cap:
            # A single day with more hits than PubMed hands out: say so; never drop them silently.
            run.failed += first.count - cap
            _error(run, item.key, f"{first.count} hits on one day; PubMed hands out only {cap} (narrow the query)")
        created = []
        for index, chunk in enumerate(batches(ids, size=_setting("EUTILS_BATCH_SIZE", 200))):
            batch, made = WorkItem.objects.get_or_create(
                run=run,
                key=f"batch:{window.start:%Y%m%d}-{window.end:%Y%m%d}:{index}",
                defaults={"kind": ItemKind.BATCH, "payload": {"pmids": chunk}},
            )
            if made:
                created.append(batch)
        item.status = ItemStatus.DONE
        item.payload = {**item.payload, "count": first.count}
        _save(run, item)
        _enqueue_on_commit(created)


def batch_fetch(*, item_id: int) -> None:
    """Fetch, parse and store one batch of PMIDs. Raises ``eutils.TransientEutilsError`` to retry."""
    from ingest.pubmed import parse_pubmed_xml

    item = _pending(item_id)
    if item is None:
        return
    pmids = [str(pmid) for pmid in item.payload.get("pmids", [])]
    body = eutils.efetch_pubmed(pmids)
    parsed = list(parse_pubmed_xml(io.BytesIO(body), location=f"efetch {item.key}"))
    with transaction.atomic():
        locked = _lock(item_id)
        if locked is None:
            return
        run, item = locked
        stored, changed = _store(run, parsed, where=item.key)
        returned = {entry.source_id for entry in parsed if isinstance(entry, ParsedRecord)}
        run.fetched += stored.read
        missing = [pmid for pmid in pmids if pmid not in returned]
        if missing:
            run.failed += len(missing)
            _error(run, item.key, f"efetch returned no record for {len(missing)} PMIDs: {', '.join(missing[:20])}")
        item.status = ItemStatus.DONE
        _save(run, item)
        _hand_off(changed)


def _iter_skipping(path: str, done: int) -> Iterator[Any]:
    from ingest.pubmed import iter_pubmed_file

    return islice(iter_pubmed_file(path), done, None)


def file_load(*, item_id: int) -> None:
    """Load one file item (see :func:`file_item_load`), then enqueue the run's next file."""
    run_id = WorkItem.objects.filter(pk=item_id).values_list("run_id", flat=True).first()
    if run_id is None:
        return
    file_item_load(item_id=item_id)
    _enqueue_next_file(run_id)


def file_item_load(*, item_id: int) -> None:
    """Load one PubMed file in chunks, each stored together with the file's progress.

    A worker killed mid-file resumes after the last stored chunk, so counts stay exact. A file
    that is gone marks the item failed with the reason.
    """
    item = _pending(item_id)
    if item is None:
        return
    path = str(item.payload["path"])
    if not Path(path).is_file():
        item_fail(item_id=item_id, error=f"{path}: no such file")
        return
    done = int(item.payload.get("done", 0))
    size = _setting("INGEST_LOAD_BATCH_SIZE", 500)
    stream = _iter_skipping(path, done)
    while True:
        chunk = list(islice(stream, size))
        with transaction.atomic():
            locked = _lock(item_id)
            if locked is None:
                return
            run, item = locked
            if int(item.payload.get("done", 0)) != done:
                return  # another worker got further with this file; leave it to that one
            stored, changed = _store(run, chunk, where=Path(path).name)
            run.fetched += stored.read
            done += len(chunk)
            item.payload = {**item.payload, "done": done}
            if len(chunk) < size:
                item.status = ItemStatus.DONE
            _save(run, item)
            _hand_off(changed)
        if len(chunk) < size:
            return


def run_files_inline(*, run_id: int) -> HarvestRun:
    """Load every pending file of a run in this process, in order, and return the finished run.

    The same work items and steps as the ``ingest.load_file`` task, without a broker: for
    ``load_pubmed --sync`` (the seed load of ``make run``) and benchmarks.
    """
    while True:
        following = (
            WorkItem.objects.filter(run_id=run_id, kind=ItemKind.FILE, status=ItemStatus.PENDING)
            .order_by("sequence")
            .first()
        )
        if following is None:
            return HarvestRun.objects.get(pk=run_id)
        try:
            file_item_load(item_id=following.pk)
        except (OSError, ValueError) as error:
            item_fail(item_id=following.pk, error=f"{type(error).__name__}: {error}")


def _enqueue_next_file(run_id: int) -> None:
    following = (
        WorkItem.objects.filter(run_id=run_id, kind=ItemKind.FILE, status=ItemStatus.PENDING)
        .order_by("sequence")
        .first()
    )
    if following is not None:
        _enqueue([(following.pk, following.kind)])


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
