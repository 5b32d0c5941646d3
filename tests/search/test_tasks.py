"""The search tasks run in a real Celery worker process against a real broker."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import search.tasks  # noqa: F401  (registers the tasks in this process)
from evidence_portal.celery import app
from search.backends import reset_backends
from search.models import IndexEntry
from search.services import search_records
from search.types import SearchRequest
from tests.factories import EvidenceRecordFactory
from tests.workers import harvest_env

__all__ = ["harvest_env"]


def test_tasks_have_explicit_names_and_limits() -> None:
    for name in ("search.index_records", "search.embed_pending"):
        task = app.tasks[name]
        assert task.acks_late is True
        assert task.soft_time_limit < task.time_limit


@pytest.mark.integration
@pytest.mark.slow
def test_worker_indexes_then_embeds_and_the_web_process_sees_it(
    harvest_env: Any, tmp_path: Path, settings: Any
) -> None:
    data_dir = tmp_path / "data"
    settings.SEARCH_BACKENDS = {
        **settings.SEARCH_BACKENDS,
        "embedded": {
            "BACKEND": "search.backends.embedded.EmbeddedBackend",
            "OPTIONS": {"path": str(data_dir / "index")},
        },
    }
    settings.SEARCH_DEFAULT_BACKEND = "embedded"
    reset_backends()
    harvest_env.env["EVIDENCE_DATA_DIR"] = str(data_dir)
    record = EvidenceRecordFactory(title="Zinc lozenges for the common cold")
    harvest_env.start_worker("search")
    queued = harvest_env.manage("enqueue_backfill", check=True)
    assert "queued 1 record(s) for indexing" in queued.stdout
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if IndexEntry.objects.filter(record=record, vector_ready=True).exists():
            break
        time.sleep(0.5)
    else:
        pytest.fail("worker did not index and embed the record:\n" + harvest_env.workers[0].output()[-3000:])
    page = search_records(SearchRequest(text="zinc cold"))
    assert [r.record.id for r in page.results] == [record.id]
    assert page.pending_vectors == 0
    reset_backends()
