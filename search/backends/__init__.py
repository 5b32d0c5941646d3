"""Search backends chosen by dotted path in ``settings.SEARCH_BACKENDS``, created lazily."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from search.backends.base import SearchBackend

_lock = threading.Lock()
_backends: dict[str, SearchBackend] = {}


def get_backend(alias: str | None = None) -> SearchBackend:
    """Return the backend configured under ``alias`` (default: ``SEARCH_DEFAULT_BACKEND``)."""
    alias = alias or settings.SEARCH_DEFAULT_BACKEND
    with _lock:
        backend = _backends.get(alias)
        if backend is None:
            config: dict[str, Any] = settings.SEARCH_BACKENDS[alias]
            backend_class = import_string(config["BACKEND"])
            backend = backend_class(alias, **config.get("OPTIONS", {}))
            _backends[alias] = backend
        return backend


def reset_backends() -> None:
    """Forget created backends (tests change settings between cases)."""
    with _lock:
        _backends.clear()
