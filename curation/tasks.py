"""Celery tasks of the curation app: thin adapters onto ``curation.alerts``.

After each harvest run, enqueue ``curation.compute_alerts`` with no arguments (on commit):
it splits the saved searches into batches and enqueues one task per batch.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import shared_task
from django.db import transaction

from curation import alerts


@shared_task(name="curation.compute_alerts", soft_time_limit=600, time_limit=660, acks_late=True)
def compute_new_evidence_alerts(saved_search_ids: list[int] | None = None) -> dict[str, Any]:
    """Check saved searches for new evidence; with no ids, fan out one task per batch.

    Returns counts (JSON primitives). Idempotent: re-running adds and sends nothing twice.
    """
    if saved_search_ids is None:
        batches = alerts.saved_search_batches()
        for batch in batches:
            transaction.on_commit(partial(compute_new_evidence_alerts.delay, batch))
        return {"batches": len(batches)}
    report = alerts.compute_alerts(saved_search_ids)
    return {
        "searches": report.searches,
        "new_alerts": report.new_alerts,
        "emails": report.emails,
        "errors": report.errors,
    }
