"""New-evidence alerts: after a harvest, saved searches are re-run and new matches recorded.

Idempotent by construction: an alert is unique per (saved search, record), inserted with
``ignore_conflicts``, and an email digest claims its alerts (``emailed_at``) before sending, so a
re-run, or two workers at once, never alert or email the same record twice.

A match counts as new when its record was first harvested after the search was saved and it is
not in the collection already. (Using the save time rather than the last check's time also
catches records harvested before the last check but indexed only after it.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from curation.models import NewEvidenceAlert, SavedSearch
from search.backends.base import SearchFilters
from search.types import SearchPage, SearchRequest

logger = logging.getLogger(__name__)

SearchFunction = Callable[[SearchRequest], SearchPage]


def _settings_int(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


@dataclass
class AlertReport:
    searches: int = 0
    new_alerts: int = 0
    emails: int = 0
    errors: list[str] = field(default_factory=list)


def _filters(saved: SavedSearch) -> SearchFilters:
    values: dict[str, Any] = dict(saved.filters or {})
    for key in ("evidence_levels", "publication_types", "languages"):
        if key in values:
            values[key] = tuple(values[key] or ())
    return SearchFilters(**values)


def _default_search() -> SearchFunction:
    from search.services import search_records

    return search_records


def matching_record_ids(saved: SavedSearch, search: SearchFunction, *, max_results: int) -> list[int]:
    """Return ids of live records the saved search matches now, newest first, at most max_results."""
    ids: list[int] = []
    page_size = min(100, max_results)
    page = 1
    while len(ids) < max_results:
        result = search(
            SearchRequest(text=saved.query, filters=_filters(saved), sort="newest", page=page, page_size=page_size)
        )
        ids.extend(hit.record.pk for hit in result.results if hit.record.deleted_at is None)
        if page >= result.page_count or not result.results:
            break
        page += 1
    return ids[:max_results]


def check_saved_search(saved: SavedSearch, search: SearchFunction, *, max_results: int) -> int:
    """Record alerts for one saved search; returns how many new alerts it added."""
    checked_at = timezone.now()
    candidate_ids = matching_record_ids(saved, search, max_results=max_results)
    from records.models import EvidenceRecord

    new_ids = list(
        EvidenceRecord.objects.filter(pk__in=candidate_ids, first_harvested_at__gt=saved.created_at)
        .exclude(pk__in=saved.collection.items.values("record_id"))
        .exclude(pk__in=saved.alerts.values("record_id"))
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        before = saved.alerts.count()
        NewEvidenceAlert.objects.bulk_create(
            [NewEvidenceAlert(saved_search=saved, record_id=record_id) for record_id in new_ids],
            ignore_conflicts=True,
        )
        added = saved.alerts.count() - before
        SavedSearch.objects.filter(pk=saved.pk).update(last_checked_at=checked_at)
    return added


def send_digest(saved: SavedSearch) -> bool:
    """Email the saved search's unsent alerts to whoever saved it; returns True if one was sent."""
    recipient = saved.created_by or saved.collection.owner
    if not saved.email_digest or recipient is None or not recipient.email:
        return False
    pending = list(saved.alerts.filter(emailed_at__isnull=True).values_list("pk", flat=True))
    if not pending:
        return False
    claimed_at = timezone.now()
    # Claim first: a concurrent run claims nothing and so sends nothing.
    claimed = NewEvidenceAlert.objects.filter(pk__in=pending, emailed_at__isnull=True).update(emailed_at=claimed_at)
    if not claimed:
        return False
    alerts = NewEvidenceAlert.objects.filter(pk__in=pending, emailed_at=claimed_at).select_related("record")
    lines = [f"- {alert.record.title} ({alert.record.pmid or alert.record.uid})" for alert in alerts]
    try:
        send_mail(
            subject=f"New evidence for “{saved.collection.name}”: {len(lines)} record(s)",
            message=f"New records match your saved search “{saved.query}”:\n\n" + "\n".join(lines),
            from_email=None,
            recipient_list=[recipient.email],
        )
    except Exception:
        # Release the claim so the next run tries again, then let the caller see the error.
        NewEvidenceAlert.objects.filter(pk__in=pending, emailed_at=claimed_at).update(emailed_at=None)
        raise
    return True


def compute_alerts(
    saved_search_ids: Iterable[int] | None = None,
    *,
    search: SearchFunction | None = None,
    max_results: int | None = None,
) -> AlertReport:
    """Check the given saved searches (all when None) of active collections; returns counts.

    One failing search is logged and reported, the others still run.
    """
    search = search or _default_search()
    max_results = max_results or _settings_int("CURATION_ALERT_MAX_RESULTS", 500)
    queryset = SavedSearch.objects.select_related("collection", "collection__owner", "created_by").filter(
        collection__archived_at__isnull=True
    )
    if saved_search_ids is not None:
        queryset = queryset.filter(pk__in=list(saved_search_ids))
    report = AlertReport()
    for saved in queryset.order_by("pk"):
        report.searches += 1
        try:
            report.new_alerts += check_saved_search(saved, search, max_results=max_results)
            report.emails += int(send_digest(saved))
        except Exception as error:  # one bad search must not stop the batch
            logger.exception("New-evidence check failed for saved search %s", saved.pk)
            report.errors.append(f"saved search {saved.pk}: {type(error).__name__}: {error}")
    return report


def saved_search_batches(batch_size: int | None = None) -> list[list[int]]:
    """Return the ids of saved searches on active collections, split into batches."""
    batch_size = batch_size or _settings_int("CURATION_ALERT_BATCH_SIZE", 50)
    ids = list(
        SavedSearch.objects.filter(collection__archived_at__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    return [ids[start : start + batch_size] for start in range(0, len(ids), batch_size)]
