"""Guideline harvest runs: start one for a configured source or a one-off URL, find sources due.

A guideline run is a ``HarvestRun`` of source ``guidelines`` cut into the same kind of work items
as a PubMed run (see ``ingest.runs``): an OAI-PMH page (the first of a window, then one per
resumption token), a feed (which plans one document item per new entry), a fetched document, a
USPSTF file or URL. Each item is done exactly once, in the transaction that stores what it read
(``ingest.guidelines.steps``), and pending items are resumed like PubMed's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from guidelines.models import GuidelineSource, SourceProtocol
from ingest.models import HarvestRun, HarvestSource, ItemKind, RunStatus, WorkItem
from ingest.runs import enqueue_on_commit


class GuidelineRunError(ValueError):
    """A guideline harvest that cannot be started, with the reason in words a person can act on."""


@dataclass(frozen=True)
class GuidelineTarget:
    """What a guideline run harvests: a protocol and its URL (or, for USPSTF, a file path)."""

    protocol: str
    url: str
    set_spec: str = ""
    metadata_prefix: str = "oai_dc"
    issuer: str = ""
    from_date: date | None = None
    until_date: date | None = None


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def oai_page_key(*, token: str | None, from_date: str | None, until_date: str | None, set_spec: str) -> str:
    """Return the work item key of one OAI-PMH page: its window for the first, its token after."""
    if token:
        return f"oai:token:{hashlib.sha256(token.encode('utf-8')).hexdigest()[:32]}"
    return f"oai:first:{from_date or '-'}:{until_date or '-'}:{set_spec}"[:255]


def _first_item(run: HarvestRun, target: GuidelineTarget) -> WorkItem:
    if target.protocol == SourceProtocol.OAI:
        start = target.from_date.isoformat() if target.from_date else None
        end = target.until_date.isoformat() if target.until_date else None
        payload = {
            "url": target.url,
            "prefix": target.metadata_prefix or "oai_dc",
            "set": target.set_spec,
            "from": start,
            "until": end,
            "token": None,
            "issuer": target.issuer,
            "page": 1,
        }
        key = oai_page_key(token=None, from_date=start, until_date=end, set_spec=target.set_spec)
        return WorkItem.objects.create(run=run, kind=ItemKind.OAI_PAGE, key=key, payload=payload)
    if target.protocol == SourceProtocol.FEED:
        payload = {"url": target.url, "issuer": target.issuer}
        return WorkItem.objects.create(run=run, kind=ItemKind.FEED, key="feed", payload=payload)
    if target.protocol == SourceProtocol.USPSTF:
        location = target.url if _is_url(target.url) else str(Path(target.url).resolve())
        return WorkItem.objects.create(run=run, kind=ItemKind.USPSTF, key="uspstf", payload={"location": location})
    raise GuidelineRunError(f"unknown guideline protocol {target.protocol!r}")


def _check(target: GuidelineTarget) -> None:
    if target.protocol not in SourceProtocol.values:
        raise GuidelineRunError(f"protocol must be one of {', '.join(SourceProtocol.values)}, got {target.protocol!r}")
    if not target.url.strip():
        raise GuidelineRunError("a URL is required")
    if target.protocol != SourceProtocol.USPSTF and not _is_url(target.url):
        raise GuidelineRunError(f"{target.url!r} is not an http(s) URL")
    if target.protocol == SourceProtocol.USPSTF and not _is_url(target.url) and not Path(target.url).is_file():
        raise GuidelineRunError(f"{target.url}: no such file (give a file or an http(s) URL)")
    if target.from_date and target.until_date and target.until_date < target.from_date:
        raise GuidelineRunError(f"until ({target.until_date}) is before from ({target.from_date})")


def run_start_guidelines(
    *, target: GuidelineTarget, source: GuidelineSource | None = None, started_by: str = ""
) -> HarvestRun:
    """Create a guideline run for ``target`` and enqueue its first item (after commit).

    Raises :class:`GuidelineRunError` for a target that cannot be harvested (nothing is created).
    """
    _check(target)
    with transaction.atomic():
        run = HarvestRun.objects.create(
            source=HarvestSource.GUIDELINES,
            guideline_source=source,
            started_by=started_by[:150],
            query=f"{target.protocol} {target.url}" + (f" set={target.set_spec}" if target.set_spec else ""),
            window_start=target.from_date,
            window_end=target.until_date,
            status=RunStatus.RUNNING,
            started_at=timezone.now(),
        )
        enqueue_on_commit([_first_item(run, target)])
    return run


def source_target(source: GuidelineSource, *, today: date | None = None) -> GuidelineTarget:
    """Return what a run of ``source`` harvests: OAI-PMH from its checkpoint up to today."""
    incremental = source.protocol == SourceProtocol.OAI
    return GuidelineTarget(
        protocol=source.protocol,
        url=source.url,
        set_spec=source.set_spec,
        metadata_prefix=source.metadata_prefix or "oai_dc",
        issuer=source.issuer,
        from_date=source.checkpoint if incremental else None,
        until_date=(today or timezone.localdate()) if incremental else None,
    )


def guideline_source_harvest(*, source_id: int, started_by: str = "") -> int:
    """Start a run of the configured guideline source ``source_id``; return the run's id.

    An OAI-PMH source harvests from its checkpoint (the last ``until`` day of its last successful
    run) up to today; a feed or USPSTF source reads all of it (what is already held is skipped or
    counted unchanged). Raises :class:`GuidelineRunError` for a missing source, or one with a run
    still going.
    """
    with transaction.atomic():
        source = GuidelineSource.objects.select_for_update().filter(pk=source_id).first()
        if source is None:
            raise GuidelineRunError(f"no guideline source with id {source_id}")
        going = source.runs.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING]).values_list("pk", flat=True)
        if going:
            # Two runs of one source would fetch and store the same documents side by side.
            raise GuidelineRunError(f"{source.name}: run {going[0]} is still going")
        return run_start_guidelines(target=source_target(source), source=source, started_by=started_by).pk


def guideline_sources_due(*, now: datetime | None = None) -> list[GuidelineSource]:
    """Return the enabled sources with an interval whose last run started that long ago or more,
    and that have no run still going."""
    moment = now or timezone.now()
    due: list[GuidelineSource] = []
    sources = GuidelineSource.objects.filter(enabled=True, interval_hours__gt=0).annotate(
        last_run=Max("runs__created_at")
    )
    for source in sources.order_by("name"):
        if source.runs.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING]).exists():
            continue
        last = source.last_run  # type: ignore[attr-defined]
        if last is None or moment - last >= timedelta(hours=source.interval_hours):
            due.append(source)
    return due


def guideline_sources_harvest_due(*, started_by: str = "schedule") -> list[int]:
    """Start a run of every source that is due (see :func:`guideline_sources_due`); return run ids."""
    return [guideline_source_harvest(source_id=source.pk, started_by=started_by) for source in guideline_sources_due()]


def run_counts_line(run: HarvestRun) -> str:
    """Return the one-line summary of a guideline run the command prints."""
    return (
        f"run {run.pk} {run.status}: read {run.fetched}, new {run.new}, updated {run.updated}, "
        f"unchanged {run.unchanged}, new versions {run.new_versions}, deleted {run.deleted}, failed {run.failed}"
    )
