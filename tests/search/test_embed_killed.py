"""A worker SIGKILLed in the middle of an embedding backfill: after a restart every record has
exactly one document with its vector in the index, none twice, none missing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from records.models import EvidenceRecord
from search.backends import get_backend, reset_backends
from search.backends.base import SearchFilters
from search.models import IndexEntry
from tests.factories import EvidenceRecordFactory
from tests.workers import harvest_env  # noqa: F401

COUNT = 300


def _ready() -> int:
    return IndexEntry.objects.filter(vector_ready=True).count()


@pytest.mark.integration
@pytest.mark.slow
def test_worker_killed_mid_embedding_resumes_without_loss_or_duplicates(
    harvest_env: Any,  # noqa: F811
    tmp_path: Path,
    settings: Any,
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
    EvidenceRecordFactory.create_batch(COUNT)
    worker = harvest_env.start_worker("embed")
    harvest_env.manage("enqueue_backfill", check=True)

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _ready() < 64:
        time.sleep(0.05)
    worker.kill()
    at_kill = _ready()
    assert 64 <= at_kill < COUNT, f"{at_kill} records embedded at the kill:\n{worker.output()[-2000:]}"

    harvest_env.start_worker("embed2")
    harvest_env.manage("enqueue_backfill", check=True)  # as `make run` does at every start
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and _ready() < COUNT:
        time.sleep(0.5)
    assert _ready() == COUNT, harvest_env.workers[-1].output()[-3000:]

    reset_backends()
    backend = get_backend()
    uids = set(EvidenceRecord.objects.values_list("uid", flat=True))
    assert backend.document_ids() == uids
    assert backend.count(filters=SearchFilters()) == COUNT
    assert backend.pending_vector_ids() == set()
    health = backend.health()
    assert (health.documents, health.vectors) == (COUNT, COUNT)
    reset_backends()
