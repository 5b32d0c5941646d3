"""Celery tasks of the portal: the daily purge of the query log (scheduled by Celery beat)."""

from __future__ import annotations

from celery import shared_task

from portal.analytics import failed_logins_purge, query_log_purge


@shared_task(name="portal.purge_query_log", acks_late=True, ignore_result=True, soft_time_limit=300, time_limit=360)
def purge_query_log() -> int:
    """Delete query-log entries past the retention period, and records of failed sign-ins whose
    lockout is over; return how many rows were deleted."""
    return query_log_purge() + failed_logins_purge()
