"""Guideline recommendations searched on a real Elasticsearch node (same cases as the embedded backend)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from search.backends import reset_backends
from tests.elastic.conftest import cleanup_prefix
from tests.guidelines import search_cases

pytestmark = pytest.mark.django_db


@pytest.fixture
def elastic_default(settings: Any, es_url: str, es_client: Elasticsearch) -> Iterator[str]:
    """Elasticsearch as the portal's default backend, under an index prefix of this test's own."""
    prefix = f"gl-{uuid.uuid4().hex[:8]}"
    backends = dict(settings.SEARCH_BACKENDS)
    backends["elasticsearch"] = {
        **backends["elasticsearch"],
        "OPTIONS": {**backends["elasticsearch"]["OPTIONS"], "url": es_url, "index_prefix": prefix},
    }
    settings.SEARCH_BACKENDS = backends
    settings.SEARCH_DEFAULT_BACKEND = "elasticsearch"
    reset_backends()
    yield prefix
    reset_backends()
    cleanup_prefix(es_client, prefix)


def test_a_search_on_a_guideline_topic_shows_its_recommendation_first(elastic_default: str) -> None:
    search_cases.recommendation_found_first_among_guidelines()


def test_issuer_and_strength_filters_apply_inside_retrieval(elastic_default: str) -> None:
    search_cases.issuer_and_strength_filters_apply_inside_retrieval()


def test_superseded_recommendations_leave_the_results(elastic_default: str) -> None:
    search_cases.superseded_recommendations_leave_the_results()
