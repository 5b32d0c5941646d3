"""Gunicorn settings used by `make run`: each worker loads the embedding model and opens the
search index before it takes requests, so the first search is as fast as the rest."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def post_worker_init(worker: Any) -> None:
    from search.backends import get_backend
    from search.embeddings import embed_query

    try:
        embed_query("warm up")
        get_backend().health()
    except Exception:  # a cold first search is better than a worker that will not start
        logger.exception("search warm-up failed; the first search will be slower")
