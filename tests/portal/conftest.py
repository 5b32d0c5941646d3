"""Fixtures for portal tests: a fresh embedded index per test, real records indexed into it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from records.models import EvidenceRecord
from search.backends import reset_backends
from tests.portal.corpus import build_corpus, build_xss_record, point_embedded_index_at


@pytest.fixture(autouse=True)
def _clean_cache_and_backends() -> Iterator[None]:
    cache.clear()  # the API rate limit counts per client in the cache
    yield
    reset_backends()


@pytest.fixture
def fresh_index(settings: Any, tmp_path: Path) -> Path:
    """An empty embedded index of this test's own."""
    path = tmp_path / "index"
    point_embedded_index_at(settings, path)
    return path


@pytest.fixture
def search_down(settings: Any, tmp_path: Path) -> Path:
    """An embedded index whose live generation is missing: the backend raises 'unavailable'."""
    path = tmp_path / "broken-index"
    path.mkdir()
    (path / "CURRENT").write_text("g-missing\n")
    point_embedded_index_at(settings, path)
    return path


@pytest.fixture
def corpus(db: None, fresh_index: Path) -> dict[str, EvidenceRecord]:
    """A small graded corpus about statins, indexed (text and vectors)."""
    return build_corpus()


@pytest.fixture
def xss_record(db: None, fresh_index: Path) -> EvidenceRecord:
    """A record whose title and abstract try to inject script and attributes, indexed."""
    return build_xss_record()
