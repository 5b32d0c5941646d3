"""Celery tasks of grading: thin adapters onto ``records.evidence.services``.

Arguments are JSON primitives (id lists); every task is idempotent (grading twice stores the
same grade) and a missing record is a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import OperationalError

from records.evidence import services

logger = logging.getLogger(__name__)

TASK_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}
REGRADE_BATCH = 1000


@shared_task(
    name="records.grade_records",
    soft_time_limit=300,
    time_limit=360,
    autoretry_for=(OperationalError,),  # a locked SQLite database is transient
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    **TASK_OPTIONS,
)
def grade_records(record_ids: list[int]) -> int:
    """Grade the given records and re-index them (the level is a search filter); return how many
    were graded."""
    from search.indexing import records_index

    graded = services.records_grade(record_ids=record_ids)
    records_index(record_ids=record_ids)  # skips records whose indexed fields did not change
    return graded


@shared_task(name="records.regrade_all", soft_time_limit=600, time_limit=660, **TASK_OPTIONS)
def regrade_all(only_unsettled: bool = False, batch_size: int = REGRADE_BATCH) -> int:
    """Enqueue ``records.grade_records`` for every live record in batches; return the batch count."""
    batches = 0
    for batch in services.record_id_batches(batch_size=batch_size, only_unsettled=only_unsettled):
        grade_records.delay(batch)
        batches += 1
    logger.info("regrade: %d batches of up to %d records enqueued", batches, batch_size)
    return batches


@shared_task(name="records.retrain_design_classifier", soft_time_limit=1800, time_limit=1900, **TASK_OPTIONS)
def retrain_design_classifier() -> str | None:
    """Retrain from the indexed records in the database, then regrade the predicted and unknown ones.

    Returns the new model version, or None when there are too few labelled records (logged).
    """
    try:
        trained = services.design_classifier_train()
    except ValueError as error:
        logger.warning("design classifier not retrained: %s", error)
        return None
    regrade_all.delay(only_unsettled=True)
    return trained.result.version
