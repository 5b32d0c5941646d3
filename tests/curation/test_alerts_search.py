"""New-evidence alerts through the real search service and embedded index, and a real worker."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from curation import alerts, services
from curation.models import Collection, NewEvidenceAlert
from records.models import EvidenceRecord
from search.backends import reset_backends
from tests.factories import EvidenceRecordFactory
from tests.workers import harvest_env

__all__ = ["harvest_env"]


def point_index_at(settings: Any, path: Path) -> None:
    backends = dict(settings.SEARCH_BACKENDS)
    backends["embedded"] = {**backends["embedded"], "OPTIONS": {**backends["embedded"]["OPTIONS"], "path": str(path)}}
    settings.SEARCH_BACKENDS = backends
    settings.SEARCH_DEFAULT_BACKEND = "embedded"
    reset_backends()


def harvested(title: str, *, days_ago: int = 0) -> EvidenceRecord:
    when = timezone.now() - timedelta(days=days_ago)
    return EvidenceRecordFactory(
        title=title,
        abstract_sections=[],
        abstract=f"{title}. Adults were followed for five years.",
        first_harvested_at=when,
        last_harvested_at=when,
    )


def index(records: list[EvidenceRecord]) -> None:
    from search.indexing import records_index

    records_index(record_ids=[record.pk for record in records])


def seed(owner: User, collection: Collection) -> list[EvidenceRecord]:
    """An old statin record, then a saved search, then two new statin records and an aspirin one."""
    old = harvested("Statin therapy and muscle symptoms", days_ago=30)
    services.saved_search_create(user=owner, collection=collection, query="statin", email_digest=True)
    new = [harvested("Statin therapy in adults over 75"), harvested("High-intensity statin therapy after stroke")]
    other = harvested("Aspirin for primary prevention of cardiovascular events")
    index([old, *new, other])
    return new


@pytest.fixture
def own_index(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    point_index_at(settings, path)
    yield path
    reset_backends()


@pytest.mark.django_db
def test_alerts_come_from_the_real_search_service_and_rerun_adds_nothing(
    own_index: Path, owner: User, collection: Collection, mailoutbox: list
) -> None:
    new = seed(owner, collection)
    first = alerts.compute_alerts()
    second = alerts.compute_alerts()
    assert first.errors == []
    assert sorted(NewEvidenceAlert.objects.values_list("record_id", flat=True)) == sorted(r.pk for r in new)
    assert (first.new_alerts, first.emails, second.new_alerts, second.emails) == (2, 1, 0, 0)
    assert len(mailoutbox) == 1


@pytest.mark.integration
@pytest.mark.slow
def test_worker_task_records_alerts_once_and_mails_one_digest(harvest_env: Any, tmp_path: Path, settings: Any) -> None:
    from tests.curation.conftest import make_user

    point_index_at(settings, tmp_path / "index")
    owner = make_user("olivia")
    collection = services.collection_create(user=owner, name="Statins")
    new = seed(owner, collection)
    # The worker's data dir holds the same index folder (EVIDENCE_DATA_DIR/index).
    harvest_env.env.update(EVIDENCE_DATA_DIR=str(tmp_path))
    worker = harvest_env.start_worker()
    for _ in range(2):  # a re-run after a harvest that brought nothing new
        harvest_env.manage("compute_alerts", "--enqueue", check=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.output().count("succeeded") < 4:
        time.sleep(0.3)
    log = worker.output()
    assert log.count("succeeded") >= 4, log[-3000:]  # two fan-outs, two batches
    assert sorted(NewEvidenceAlert.objects.values_list("record_id", flat=True)) == sorted(r.pk for r in new)
    assert log.count("To: olivia@example.org") == 1, log[-3000:]  # the console email backend
