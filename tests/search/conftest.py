"""A fresh embedded index per test, in the test's own folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from search.backends import reset_backends


@pytest.fixture
def search_index(settings: Any, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "index"
    settings.SEARCH_BACKENDS = {
        **settings.SEARCH_BACKENDS,
        "embedded": {"BACKEND": "search.backends.embedded.EmbeddedBackend", "OPTIONS": {"path": str(path)}},
    }
    settings.SEARCH_DEFAULT_BACKEND = "embedded"
    reset_backends()
    yield path
    reset_backends()
