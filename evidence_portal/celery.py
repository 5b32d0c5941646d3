"""The Celery application. Tasks live in each app's ``tasks.py`` and are found automatically."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evidence_portal.settings")

app = Celery("evidence_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def stop_when_a_service_is_missing(**_: Any) -> None:
    """A worker whose database, Redis, broker or search backend does not answer stops with one line."""
    from evidence_portal.preflight import exit_on_problems

    exit_on_problems("Celery worker")


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def scrub_query_text_from_worker_logs(logger: Any, **_: Any) -> None:
    """The handlers a worker sets up drop query text as the web processes' handlers do."""
    from evidence_portal.privacy import QueryScrubFilter

    for handler in logger.handlers:
        if not any(isinstance(f, QueryScrubFilter) for f in handler.filters):
            handler.addFilter(QueryScrubFilter())
