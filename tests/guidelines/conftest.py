from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from search.backends import reset_backends
from tests.portal.corpus import point_embedded_index_at


@pytest.fixture
def fresh_index(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """An empty embedded index of this test's own."""
    cache.clear()
    path = tmp_path / "index"
    point_embedded_index_at(settings, path)
    yield path
    reset_backends()
