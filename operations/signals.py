"""Worker heartbeats: a thread in each Celery worker records that it is alive every few seconds,
so the operations page shows a worker that has not answered for a minute as down."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)
_stop = threading.Event()


def _hostname(sender: Any) -> str:
    return str(getattr(sender, "hostname", "") or "worker")


@worker_ready.connect
def _start_beating(sender: Any = None, **_: Any) -> None:
    from operations import services

    hostname, started = _hostname(sender), timezone.now()

    def beat() -> None:
        while True:
            try:
                services.worker_beat(hostname=hostname, started_at=started)
            except Exception:  # the database may be busy or not migrated yet: try again next beat
                logger.warning("worker heartbeat not recorded", exc_info=True)
            finally:
                connection.close()
            if _stop.wait(services.heartbeat_interval()):
                return

    threading.Thread(target=beat, name="operations-worker-heartbeat", daemon=True).start()
    try:
        services.jobs_watch()  # jobs of a worker that died are failed, lost queued jobs resent
    except Exception:
        logger.exception("could not check operations jobs at worker start")


@worker_shutdown.connect
def _stop_beating(sender: Any = None, **_: Any) -> None:
    _stop.set()
    try:
        from operations import services

        services.worker_gone(hostname=_hostname(sender))
    except Exception:
        logger.warning("could not forget this worker's heartbeat", exc_info=True)
