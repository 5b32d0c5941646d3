"""New-evidence alerts: new matches are listed once, re-runs add and send nothing twice.

The search seam is given a small database-backed search here (title contains the query) so
these tests pin down the alert bookkeeping; the search service itself has its own suite.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from curation import alerts, selectors, services
from curation.models import Collection, NewEvidenceAlert, SavedSearch
from records.models import EvidenceRecord
from search.backends.base import FacetCounts
from search.types import ScoreBreakdown, SearchPage, SearchRequest, SearchResult
from tests.factories import EvidenceRecordFactory

pytestmark = pytest.mark.django_db


def title_search(request: SearchRequest) -> SearchPage:
    matches = EvidenceRecord.objects.filter(title__icontains=request.text, deleted_at__isnull=True).order_by("-id")
    if request.filters.year_from:
        matches = matches.filter(publication_year__gte=request.filters.year_from)
    total = matches.count()
    start = (request.page - 1) * request.page_size
    breakdown = ScoreBreakdown(None, None, 0.0, 0.0, 0.0, 0.0)
    results = [
        SearchResult(record, breakdown, record.title, "") for record in matches[start : start + request.page_size]
    ]
    return SearchPage(request=request, results=results, total=total, facets=FacetCounts())


def harvested(title: str, *, when: timezone.datetime | None = None, **fields: object) -> EvidenceRecord:
    when = when or timezone.now()
    return EvidenceRecordFactory(title=title, first_harvested_at=when, last_harvested_at=when, **fields)


@pytest.fixture
def watched(collection: Collection, owner: User) -> SavedSearch:
    harvested("Statin therapy trial from before", when=timezone.now() - timedelta(days=30))
    return services.saved_search_create(user=owner, collection=collection, query="statin", email_digest=True)


def test_only_records_harvested_after_saving_become_alerts(collection: Collection, watched: SavedSearch) -> None:
    new = harvested("Statin therapy in older adults")
    harvested("Aspirin for primary prevention")
    report = alerts.compute_alerts(search=title_search)
    assert (report.searches, report.new_alerts, report.errors) == (1, 1, [])
    assert [alert.record for alert in selectors.open_alerts(collection)] == [new]


def test_rerun_adds_nothing_and_emails_nothing_twice(collection: Collection, watched: SavedSearch) -> None:
    harvested("Statin therapy in older adults")
    harvested("High-intensity statin after stroke")
    first = alerts.compute_alerts(search=title_search)
    second = alerts.compute_alerts(search=title_search)
    assert (first.new_alerts, first.emails) == (2, 1)
    assert (second.new_alerts, second.emails) == (0, 0)
    assert NewEvidenceAlert.objects.count() == 2
    assert len(mail.outbox) == 1
    assert "High-intensity statin after stroke" in mail.outbox[0].body
    assert mail.outbox[0].to == ["olivia@example.org"]


def test_a_later_harvest_alerts_only_the_newcomers(collection: Collection, watched: SavedSearch) -> None:
    harvested("Statin therapy in older adults")
    alerts.compute_alerts(search=title_search)
    later = harvested("Statin withdrawal in frail patients")
    report = alerts.compute_alerts(search=title_search)
    assert report.new_alerts == 1
    assert len(mail.outbox) == 2 and "frail" in mail.outbox[1].body and "older adults" not in mail.outbox[1].body
    assert NewEvidenceAlert.objects.filter(record=later).count() == 1


def test_records_already_in_the_collection_are_not_alerted(
    collection: Collection, owner: User, watched: SavedSearch
) -> None:
    record = harvested("Statin therapy in older adults")
    services.item_add(user=owner, collection=collection, record=record.pmid)
    assert alerts.compute_alerts(search=title_search).new_alerts == 0


def test_dismissed_alerts_stay_dismissed(collection: Collection, owner: User, watched: SavedSearch) -> None:
    harvested("Statin therapy in older adults")
    alerts.compute_alerts(search=title_search)
    alert = selectors.open_alerts(collection).get()
    services.alert_dismiss(user=owner, collection=collection, alert_id=alert.pk)
    alerts.compute_alerts(search=title_search)
    assert list(selectors.open_alerts(collection)) == []


def test_archived_collections_are_not_checked(collection: Collection, owner: User, watched: SavedSearch) -> None:
    harvested("Statin therapy in older adults")
    services.collection_set_archived(user=owner, collection=collection, archived=True)
    assert alerts.compute_alerts(search=title_search).searches == 0


def test_one_failing_search_does_not_stop_the_batch(collection: Collection, owner: User, watched: SavedSearch) -> None:
    services.saved_search_create(user=owner, collection=collection, query="boom")
    harvested("Statin therapy in older adults")

    def flaky(request: SearchRequest) -> SearchPage:
        if request.text == "boom":
            raise RuntimeError("index unavailable")
        return title_search(request)

    report = alerts.compute_alerts(search=flaky)
    assert report.new_alerts == 1
    assert len(report.errors) == 1 and "index unavailable" in report.errors[0]


def test_failed_email_is_retried_on_the_next_run(
    collection: Collection, watched: SavedSearch, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    harvested("Statin therapy in older adults")

    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("SMTP down")

    monkeypatch.setattr(alerts, "send_mail", broken)
    assert alerts.compute_alerts(search=title_search).errors
    monkeypatch.undo()
    report = alerts.compute_alerts(search=title_search)
    assert (report.new_alerts, report.emails) == (0, 1)


def test_saved_searches_split_into_batches(collection: Collection, owner: User) -> None:
    for index in range(5):
        services.saved_search_create(user=owner, collection=collection, query=f"q{index}")
    batches = alerts.saved_search_batches(batch_size=2)
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert sorted(id_ for batch in batches for id_ in batch) == sorted(SavedSearch.objects.values_list("pk", flat=True))
