"""The OpenAPI schema is honest: schemathesis calls every operation with generated parameters
(a bounded number of examples) and checks each answer against the documented responses."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from evidence_portal.api import api
from tests.factories import EvidenceRecordFactory

SCHEMA = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
PORTAL_OPERATIONS = {
    result.ok().label: result.ok() for result in SCHEMA.get_all_operations() if "collections" not in result.ok().path
}


@pytest.fixture
def api_url(transactional_db: None, live_server: Any, fresh_index: Any, settings: Any) -> str:
    settings.PORTAL_API_RATE = "100000/m"  # generated calls must not trip the per-client limit
    EvidenceRecordFactory(source_id="12345", evidence_level="rct")
    return str(live_server.url)


@pytest.mark.parametrize("label", sorted(PORTAL_OPERATIONS))
def test_api_answers_match_the_openapi_schema(label: str, api_url: str) -> None:
    operation = PORTAL_OPERATIONS[label]

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        response = case.call(base_url=api_url, timeout=30)
        assert response.status_code < 500, response.text
        case.validate_response(response)

    check()


def test_schema_covers_the_portal_operations() -> None:
    assert set(PORTAL_OPERATIONS) >= {"GET /api/v1/search", "GET /api/v1/records/{pmid}"}
