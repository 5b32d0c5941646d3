"""The shared backend contract, run against the real Elasticsearch node."""

from __future__ import annotations

import pytest

from search.backends.elastic import ElasticsearchBackend
from tests.search.backend_contract import BackendContract

pytestmark = [pytest.mark.elasticsearch, pytest.mark.integration]


class TestElasticsearchBackendContract(BackendContract):
    @pytest.fixture
    def backend(self, es_backend: ElasticsearchBackend) -> ElasticsearchBackend:
        return es_backend
