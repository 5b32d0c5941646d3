"""A real Elasticsearch node for the tests in this folder: ELASTICSEARCH_URL when set, otherwise
the launcher in tests/es_node, started once per session and stopped at the end."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from search.backends.elastic import ElasticsearchBackend
from tests.elastic.node import NodeProcess


def launcher_missing() -> str | None:
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (needed to build and run the Elasticsearch test node)"
    return None


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """The URL of a real Elasticsearch node (started here unless ELASTICSEARCH_URL is set)."""
    configured = os.environ.get("ELASTICSEARCH_URL")
    if configured:
        yield configured
        return
    missing = launcher_missing()
    if missing:
        pytest.skip(missing)
    node = NodeProcess()
    url = node.start()
    Elasticsearch(url, request_timeout=90).cluster.health(wait_for_status="yellow", timeout="60s")
    yield url
    node.cleanup()


@pytest.fixture(scope="session")
def es_client(es_url: str) -> Elasticsearch:
    return Elasticsearch(es_url, request_timeout=60)


def cleanup_prefix(client: Elasticsearch, prefix: str) -> None:
    client.options(ignore_status=404).indices.delete(index=f"{prefix}-g*", expand_wildcards="all")
    client.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-template")


@pytest.fixture
def es_prefix(es_client: Elasticsearch) -> Iterator[str]:
    """A unique index prefix, deleted (indices and template) after the test."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    cleanup_prefix(es_client, prefix)


def make_backend(url: str, prefix: str, **options: object) -> ElasticsearchBackend:
    return ElasticsearchBackend("elasticsearch", url=url, index_prefix=prefix, **options)


@pytest.fixture
def es_backend(es_url: str, es_prefix: str) -> ElasticsearchBackend:
    """A fresh, empty Elasticsearch backend under its own index prefix."""
    return make_backend(es_url, es_prefix)
