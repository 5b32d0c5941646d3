"""The steps of a guideline run, one per work item kind, each done exactly once.

Like ``ingest.steps``: each step does its network or file work outside any transaction, then in
one transaction (the run row locked by ``item_lock``) checks the item is still pending, stores
what it read through ``guidelines.services``, adds to the run's counts, plans the items that
follow (the next OAI-PMH page, a feed's new documents) and marks the item done. Record ids that
changed are handed to ``ingest.pipeline.records_changed`` after the commit.

A document that cannot be read is a per-document error: it is recorded in the run's errors and
counted failed, and the rest of the run carries on. Transient network errors propagate as
``TransientFetchError`` for the task to retry with backoff.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from ingest.guidelines.types import DeletedGuideline, GuidelineParseError, ParsedGuideline
from ingest.models import HarvestRun, ItemKind, ItemStatus, WorkItem
from ingest.runs import enqueue_on_commit, item_fail, item_lock, item_pending, item_save, record_error

logger = logging.getLogger(__name__)

FEED_SOURCE = "feed"


def max_bytes() -> int:
    """Return the largest guideline document read, in bytes (``GUIDELINE_MAX_BYTES``)."""
    return int(settings.GUIDELINE_MAX_BYTES)


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _with_issuer(parsed: ParsedGuideline, issuer: str) -> ParsedGuideline:
    return dataclasses.replace(parsed, issuer=issuer) if issuer and not parsed.issuer else parsed


# --- storing ------------------------------------------------------------------------------------


def _store(run: HarvestRun, items: Iterable[ParsedGuideline | DeletedGuideline], *, where: str) -> list[int]:
    """Store each guideline or deletion (a savepoint each); add to the run's counts; return changed ids.

    One document that cannot be stored is recorded in the run's errors and counted failed; the
    others are stored.
    """
    from guidelines.services import GuidelineCounts, guideline_store_item

    counts = GuidelineCounts()
    now = timezone.now()
    failed = 0
    for item in items:
        try:
            guideline_store_item(item=item, harvested_at=now, counts=counts)
        except (ValueError, DatabaseError) as error:
            failed += 1
            record_error(run, f"{where} {item.source_id}", f"{type(error).__name__}: {error}")
    run.fetched += counts.read + failed
    run.new += counts.new + counts.older_versions
    run.updated += counts.updated
    run.unchanged += counts.unchanged
    run.new_versions += counts.new_versions
    run.deleted += counts.deleted
    run.failed += failed
    return list(counts.changed_record_ids)


def _hand_off(changed: list[int]) -> None:
    if changed:
        from ingest.pipeline import records_changed

        ids = list(changed)
        transaction.on_commit(lambda: records_changed(ids))


# --- OAI-PMH ------------------------------------------------------------------------------------


def oai_page(*, item_id: int) -> None:
    """Fetch one OAI-PMH page, store its guidelines and deletions, plan the next page.

    ``noRecordsMatch`` is an empty, successful page. Any other OAI-PMH error (a
    ``badResumptionToken``, an unknown set) raises ``OaiError`` and fails the item with the
    server's message; ``TransientFetchError`` propagates for a retry.
    """
    from ingest.guidelines.client import oai_fetch_page
    from ingest.guidelines.oai import OaiError

    item = item_pending(item_id)
    if item is None:
        return
    payload = item.payload
    try:
        page = oai_fetch_page(
            payload["url"],
            metadata_prefix=payload.get("prefix") or "oai_dc",
            set_spec=payload.get("set") or None,
            from_date=_day(payload.get("from")),
            until_date=_day(payload.get("until")),
            resumption_token=payload.get("token") or None,
        )
    except OaiError as error:
        if not error.empty:  # noRecordsMatch: nothing in this window, a successful empty page
            raise
        page = None
    with transaction.atomic():
        locked = item_lock(item_id)
        if locked is None:
            return
        run, item = locked
        if page is None:
            item.payload = {**payload, "records": 0}
            item.status = ItemStatus.DONE
            item_save(run, item)
            return
        issuer = str(payload.get("issuer") or "")
        where = f"oai page {payload.get('page', 1)}"
        documents: list[ParsedGuideline | DeletedGuideline] = [_with_issuer(g, issuer) for g in page.guidelines]
        documents += list(page.deleted)
        changed = _store(run, documents, where=where)
        if payload.get("page", 1) == 1 and page.complete_list_size is not None:
            run.found += int(page.complete_list_size)
        elif payload.get("page", 1) == 1:
            run.found += len(documents)
        following = []
        if page.resumption_token:
            from ingest.guidelines.runs import oai_page_key

            key = oai_page_key(token=page.resumption_token, from_date=None, until_date=None, set_spec="")
            next_item, made = WorkItem.objects.get_or_create(
                run=run,
                key=key,
                defaults={
                    "kind": ItemKind.OAI_PAGE,
                    "sequence": int(payload.get("page", 1)),
                    "payload": {**payload, "token": page.resumption_token, "page": int(payload.get("page", 1)) + 1},
                },
            )
            if made:
                following.append(next_item)
        # Headers without metadata (a ListIdentifiers answer) are counted on the item, not stored.
        item.payload = {**payload, "records": len(documents), "identifiers": len(page.identifiers)}
        item.status = ItemStatus.DONE
        item_save(run, item)
        enqueue_on_commit(following)
        _hand_off(changed)


# --- feeds and their documents ------------------------------------------------------------------


def _entry_id(entry: Any) -> str:
    # Cut to the length a stored source id keeps, so an entry is recognised on the next run.
    return str(getattr(entry, "guid", "") or getattr(entry, "link", "") or "").strip()[:255]


def _seen(source_ids: Sequence[str]) -> set[str]:
    """Return which feed entry ids are already stored as guidelines (also under another source)."""
    from guidelines.models import Guideline

    seen = set(
        Guideline.objects.filter(source=FEED_SOURCE, source_id__in=list(source_ids)).values_list("source_id", flat=True)
    )
    for aliases in Guideline.objects.exclude(aliases=[]).values_list("aliases", flat=True):
        seen.update(alias_id for alias_source, alias_id in aliases if alias_source == FEED_SOURCE)
    return seen


def _published(entry: Any) -> str | None:
    value = getattr(entry, "published", None)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None


def feed_read(*, item_id: int) -> None:
    """Read a guideline feed and plan one document item for each entry not seen before.

    Entries already stored (by their feed id) are counted unchanged and not fetched again.
    """
    from ingest.guidelines.client import feed_fetch

    item = item_pending(item_id)
    if item is None:
        return
    entries = feed_fetch(item.payload["url"])
    with transaction.atomic():
        locked = item_lock(item_id)
        if locked is None:
            return
        run, item = locked
        ids = [_entry_id(entry) for entry in entries]
        seen = _seen([entry_id for entry_id in ids if entry_id])
        run.found += len(entries)
        planned = []
        for index, (entry, entry_id) in enumerate(zip(entries, ids, strict=True), start=1):
            link = str(getattr(entry, "link", "") or "").strip()
            if not entry_id or not link:
                run.failed += 1
                record_error(run, f"feed entry {index}", "entry has no link to a document")
                continue
            if entry_id in seen:
                run.fetched += 1
                run.unchanged += 1
                continue
            digest = hashlib.sha256(entry_id.encode("utf-8")).hexdigest()[:32]
            document, made = WorkItem.objects.get_or_create(
                run=run,
                key=f"doc:{digest}",
                defaults={
                    "kind": ItemKind.DOCUMENT,
                    "sequence": index,
                    "payload": {
                        "url": link,
                        "source": FEED_SOURCE,
                        "source_id": entry_id,
                        "title": str(getattr(entry, "title", "") or ""),
                        "published": _published(entry),
                        "issuer": item.payload.get("issuer", ""),
                    },
                },
            )
            if made:
                planned.append(document)
        item.payload = {**item.payload, "entries": len(entries), "new": len(planned)}
        item.status = ItemStatus.DONE
        item_save(run, item)
        enqueue_on_commit(planned)


def _filename(url: str) -> str:
    name = unquote(Path(urlsplit(url).path).name)
    return name or "document"


def document_fetch(*, item_id: int) -> None:
    """Fetch one guideline document (HTML, PDF, DOCX), split it, store it.

    A document that cannot be read (no text layer, encrypted, over the size limit, a zip bomb)
    fails its item with the reason and leaves the rest of the run going.
    """
    from ingest.guidelines.client import fetch_bytes
    from ingest.guidelines.documents import extract_text
    from ingest.guidelines.splitter import guideline_from_text

    item = item_pending(item_id)
    if item is None:
        return
    payload = item.payload
    limit = max_bytes()
    published = _day(payload.get("published"))
    try:
        data = fetch_bytes(payload["url"], max_bytes=limit)
        extracted = extract_text(data, filename=_filename(payload["url"]), max_bytes=limit)
        parsed = guideline_from_text(
            extracted.text,
            source=payload.get("source") or FEED_SOURCE,
            source_id=payload["source_id"],
            title=payload.get("title") or getattr(extracted, "title", "") or _filename(payload["url"]),
            issuer=payload.get("issuer") or "",
            year=published.year if published else None,
            url=payload["url"],
        )
    except GuidelineParseError as error:
        item_fail(item_id=item_id, error=f"{payload['url']}: {error}")
        return
    if published and parsed.published is None:
        parsed = dataclasses.replace(parsed, published=published)
    with transaction.atomic():
        locked = item_lock(item_id)
        if locked is None:
            return
        run, item = locked
        changed = _store(run, [parsed], where=item.key)
        item.status = ItemStatus.DONE
        item_save(run, item)
        _hand_off(changed)


# --- USPSTF -------------------------------------------------------------------------------------


def uspstf_read(*, item_id: int) -> None:
    """Read a USPSTF Prevention TaskForce API JSON file or URL and store its recommendations."""
    from ingest.guidelines.client import fetch_bytes
    from ingest.guidelines.uspstf import parse_uspstf

    item = item_pending(item_id)
    if item is None:
        return
    location = str(item.payload["location"])
    limit = max_bytes()
    if location.startswith(("http://", "https://")):
        data = fetch_bytes(location, max_bytes=limit)
    else:
        path = Path(location)
        if not path.is_file():
            item_fail(item_id=item_id, error=f"{location}: no such file")
            return
        if path.stat().st_size > limit:
            item_fail(item_id=item_id, error=f"{location}: over the size limit of {limit:,} bytes")
            return
        data = path.read_bytes()
    try:
        guidelines = parse_uspstf(data)
    except GuidelineParseError as error:
        item_fail(item_id=item_id, error=f"{location}: {error}")
        return
    with transaction.atomic():
        locked = item_lock(item_id)
        if locked is None:
            return
        run, item = locked
        run.found += len(guidelines)
        changed = _store(run, guidelines, where="uspstf")
        item.status = ItemStatus.DONE
        item_save(run, item)
        _hand_off(changed)
