"""Gunicorn settings used by `make run` (and `bench/portal.py`): each worker loads the embedding
model and opens the search index before it takes requests, so the first search is as fast as the
rest, and computes with one thread per request. The access log never holds query text: every
query-string value except known filters (sort, page, level, years...) is written as ``-``, in the
request line, the referrer and any header (see ``evidence_portal.privacy``)."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from evidence_portal.privacy import scrub_gunicorn_atoms

logger = logging.getLogger(__name__)


class PrivateAccessLogger(Logger):
    """Gunicorn's logger, with the query text of every request scrubbed from the access log."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        return scrub_gunicorn_atoms(super().atoms(resp, req, environ, request_time))


logger_class = PrivateAccessLogger


def on_starting(server: Any) -> None:
    """Stop before any worker starts when the database, Redis, the broker or search does not answer."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evidence_portal.settings")
    django.setup()
    from django.db import connections

    from evidence_portal.preflight import exit_on_problems

    exit_on_problems("gunicorn")
    connections.close_all()  # the workers fork from here: no connection may be shared


def post_worker_init(worker: Any) -> None:
    from threadpoolctl import threadpool_limits

    from search.backends import get_backend
    from search.embeddings import embed_query

    # A web worker serves several requests at once on few cores: one BLAS / OpenMP thread per
    # request. Multi-threaded matrix products spin-waited against each other and against the
    # other worker (8 clients on 2 cores: 23.6 req/s, p95 557 ms before this line).
    threadpool_limits(limits=1)
    try:
        embed_query("warm up")
        get_backend().health()
    except Exception:  # a cold first search is better than a worker that will not start
        logger.exception("search warm-up failed; the first search will be slower")
