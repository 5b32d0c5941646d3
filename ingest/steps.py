"""The steps of a harvest run, one per work item kind, each done exactly once.

Each step reads its work item, does its network or file work outside any transaction, then in
one transaction (with the run row locked, see ``ingest.runs``) checks the item is still pending,
stores the records, adds to the run's counts and marks the item done. The Celery tasks of
``ingest.tasks`` call these; ``run_files_inline`` runs file items in this process.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from ingest import eutils
from ingest.harvest import Window, batches, can_split, split_window
from ingest.models import HarvestRun, ItemKind, ItemStatus, WorkItem
from ingest.pubmed.ahead import FilesAhead, iter_pubmed_file_ahead
from ingest.runs import (
    enqueue_items,
    enqueue_on_commit,
    int_setting,
    item_fail,
    item_lock,
    item_pending,
    item_save,
    record_error,
)
from records.types import DeletedCitation, ParsedRecord, ParseProblem

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
            record_error(run, entry.location or where, entry.reason)
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
    item = item_pending(item_id)
    if item is None:
        return
    run = item.run
    window = Window.from_payload(item.payload)
    cap = eutils.ESEARCH_CAP
    page = min(int_setting("EUTILS_ESEARCH_PAGE", cap), cap)
    hinted_large = int(item.payload.get("parent_count", 0)) > 2 * cap and can_split(window)
    first = eutils.esearch(
        term=run.query, datetype=run.datetype, start=window.start, end=window.end, retmax=0 if hinted_large else page
    )
    if first.count > cap and can_split(window):
        with transaction.atomic():
            locked = item_lock(item_id)
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
            item_save(run, item)
            enqueue_on_commit([child for child in children if child.status == ItemStatus.PENDING])
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
        locked = item_lock(item_id)
        if locked is None:
            return
        run, item = locked
        run.found += first.count
        if first.count > cap:
            # A single day with more hits than PubMed hands out: say so; never drop them silently.
            run.failed += first.count - cap
            record_error(
                run, item.key, f"{first.count} hits on one day; PubMed hands out only {cap} (narrow the query)"
            )
        created = []
        for index, chunk in enumerate(batches(ids, size=int_setting("EUTILS_BATCH_SIZE", 200))):
            batch, made = WorkItem.objects.get_or_create(
                run=run,
                key=f"batch:{window.start:%Y%m%d}-{window.end:%Y%m%d}:{index}",
                defaults={"kind": ItemKind.BATCH, "payload": {"pmids": chunk}},
            )
            if made:
                created.append(batch)
        item.status = ItemStatus.DONE
        item.payload = {**item.payload, "count": first.count}
        item_save(run, item)
        enqueue_on_commit(created)


def batch_fetch(*, item_id: int) -> None:
    """Fetch, parse and store one batch of PMIDs. Raises ``eutils.TransientEutilsError`` to retry."""
    from ingest.pubmed import parse_pubmed_xml

    item = item_pending(item_id)
    if item is None:
        return
    pmids = [str(pmid) for pmid in item.payload.get("pmids", [])]
    body = eutils.efetch_pubmed(pmids)
    parsed = list(parse_pubmed_xml(io.BytesIO(body), location=f"efetch {item.key}"))
    with transaction.atomic():
        locked = item_lock(item_id)
        if locked is None:
            return
        run, item = locked
        stored, changed = _store(run, parsed, where=item.key)
        returned = {entry.source_id for entry in parsed if isinstance(entry, ParsedRecord)}
        run.fetched += stored.read
        missing = [pmid for pmid in pmids if pmid not in returned]
        if missing:
            run.failed += len(missing)
            record_error(
                run, item.key, f"efetch returned no record for {len(missing)} PMIDs: {', '.join(missing[:20])}"
            )
        item.status = ItemStatus.DONE
        item_save(run, item)
        _hand_off(changed)


def file_load(*, item_id: int) -> None:
    """Load one file item (see :func:`file_item_load`), then enqueue the run's next file."""
    run_id = WorkItem.objects.filter(pk=item_id).values_list("run_id", flat=True).first()
    if run_id is None:
        return
    file_item_load(item_id=item_id)
    _enqueue_next_file(run_id)


def file_item_load(*, item_id: int, ahead: FilesAhead | None = None) -> None:
    """Load one PubMed file in chunks, each stored together with the file's progress.

    A worker killed mid-file resumes after the last stored chunk, so counts stay exact. A file
    that is gone marks the item failed with the reason. ``ahead``, when given, is the child
    already parsing the run's files (see :func:`run_files_inline`).
    """
    item = item_pending(item_id)
    if item is None:
        return
    path = str(item.payload["path"])
    if not Path(path).is_file():
        item_fail(item_id=item_id, error=f"{path}: no such file")
        return
    done = int(item.payload.get("done", 0))
    size = max(1, int(item.payload.get("batch_size", 500)))
    hand_off = bool(item.payload.get("hand_off", True))
    # Parsed in a child process while this one stores the previous chunk (same items, same order).
    parsed = ahead.items(path, done) if ahead is not None else iter_pubmed_file_ahead(path, skip=done)
    with closing(parsed) as stream:
        while True:
            chunk = list(islice(stream, size))
            with transaction.atomic():
                locked = item_lock(item_id)
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
                item_save(run, item)
                if hand_off:
                    _hand_off(changed)
            if len(chunk) < size:
                return


def run_files_inline(*, run_id: int) -> HarvestRun:
    """Load every pending file of a run in this process, in order, and return the finished run.

    The same work items and steps as the ``ingest.load_file`` task, without a broker: for
    ``load_pubmed --sync`` (the seed load of ``make run``) and benchmarks. One child process
    parses the files in order while this one stores, so the next file is parsed while the
    last one is stored.
    """
    pending = WorkItem.objects.filter(run_id=run_id, kind=ItemKind.FILE, status=ItemStatus.PENDING)
    planned = [(item.payload["path"], int(item.payload.get("done", 0))) for item in pending.order_by("sequence")]
    with FilesAhead(planned) as ahead:
        while True:
            following = pending.order_by("sequence").first()
            if following is None:
                return HarvestRun.objects.get(pk=run_id)
            try:
                file_item_load(item_id=following.pk, ahead=ahead)
            except (OSError, ValueError) as error:
                item_fail(item_id=following.pk, error=f"{type(error).__name__}: {error}")


def _enqueue_next_file(run_id: int) -> None:
    following = (
        WorkItem.objects.filter(run_id=run_id, kind=ItemKind.FILE, status=ItemStatus.PENDING)
        .order_by("sequence")
        .first()
    )
    if following is not None:
        enqueue_items([(following.pk, following.kind)])
