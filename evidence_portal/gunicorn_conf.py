"""Gunicorn settings used by `make run` (and `bench/portal.py`): each worker loads the embedding
model and opens the search index before it takes requests, so the first search is as fast as the
rest, and computes with one thread per request."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


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
