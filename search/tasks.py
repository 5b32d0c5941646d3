"""Celery tasks of the search index: thin adapters onto ``search.indexing``.

Both are idempotent (unchanged records are skipped; embedded records are no longer pending),
take JSON primitives, and retry with backoff only when the backend is unavailable.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from search import indexing
from search.backends.base import SearchBackendUnavailable

TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "ignore_result": True,
    "autoretry_for": (SearchBackendUnavailable,),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="search.index_records", soft_time_limit=300, time_limit=360, **TASK_OPTIONS)
def index_records(record_ids: list[int]) -> int:
    """Index the given records' text now and queue their embeddings; return how many changed."""
    report = indexing.records_index(record_ids=[int(i) for i in record_ids])
    if report.indexed:
        embed_pending.delay(limit=report.indexed)
    return report.indexed


@shared_task(name="search.embed_pending", soft_time_limit=1800, time_limit=1900, **TASK_OPTIONS)
def embed_pending(limit: int = 1000) -> int:
    """Embed up to ``limit`` pending records; return how many got vectors."""
    return indexing.embed_pending(limit=int(limit))
