"""The collections part of the OpenAPI schema is honest: schemathesis calls each operation with
generated input (a bounded number of examples, as a signed-in author with a token) and checks
every answer against the documented responses; nothing answers 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from hypothesis import HealthCheck, given, settings

from curation import services
from curation.accounts import api_token_create
from evidence_portal.api import api
from records.models import EvidenceRecord

SCHEMA = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
OPERATIONS = {
    result.ok().label: result.ok() for result in SCHEMA.get_all_operations() if "/collections" in result.ok().path
}


@pytest.fixture
def author_headers(transactional_db: None, owner: User, records: list[EvidenceRecord]) -> dict[str, str]:
    collection = services.collection_create(user=owner, name="Fuzzed")
    services.item_add(user=owner, collection=collection, record=records[0].pmid)
    _, key = api_token_create(user=owner, name="schemathesis")
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_collection_api_answers_match_the_openapi_schema(
    label: str, live_server: Any, author_headers: dict[str, str]
) -> None:
    operation = OPERATIONS[label]

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        response = case.call(base_url=live_server.url, headers=author_headers, timeout=30)
        assert response.status_code < 500, response.text
        case.validate_response(response)

    check()


def test_schema_covers_every_collection_operation() -> None:
    assert len(OPERATIONS) == 12
