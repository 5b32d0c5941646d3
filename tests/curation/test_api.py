"""The collections JSON API: every endpoint across owner, co-authors and an outsider; IDOR; auth."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rispy
from django.contrib.auth.models import User
from django.test import Client

from curation import services, snapshots
from curation.accounts import api_token_create
from curation.models import Collection
from records.models import EvidenceRecord

pytestmark = pytest.mark.django_db
BASE = "/api/v1/collections"


def bearer(user: User) -> dict[str, str]:
    _, key = api_token_create(user=user, name="tests")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def call(client: Client, method: str, url: str, user: User | None, body: Any = None) -> Any:
    headers = bearer(user) if user is not None else {}
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(url, data=data, content_type="application/json", **headers)


@pytest.fixture
def world(collection: Collection, owner: User, records: list[EvidenceRecord]) -> dict[str, Any]:
    item = services.item_add(user=owner, collection=collection, record=records[0].pmid, note="first")
    services.item_add(user=owner, collection=collection, record=records[1].pmid)
    snapshot = snapshots.snapshot_create(user=owner, collection=collection)
    return {"collection": collection, "item": item, "snapshot": snapshot, "records": records}


ENDPOINTS = {
    # name: (method, url template, body, expected status for owner, coauthor (edit), viewer, outsider)
    "get": ("get", "{c}", None, (200, 200, 200, 404)),
    "rename": ("patch", "{c}", {"name": "Renamed"}, (200, 200, 403, 404)),
    "delete": ("delete", "{c}", None, (204, 403, 403, 404)),
    "items": ("get", "{c}/items", None, (200, 200, 200, 404)),
    "add_item": ("post", "{c}/items", {"record": "R2", "note": "n"}, (201, 201, 403, 404)),
    "update_item": ("patch", "{c}/items/{i}", {"note": "changed"}, (200, 200, 403, 404)),
    "remove_item": ("delete", "{c}/items/{i}", None, (204, 204, 403, 404)),
    "freeze": ("post", "{c}/snapshots", {"label": "v"}, (201, 201, 403, 404)),
    "snapshot": ("get", "{c}/snapshots/{s}", None, (200, 200, 200, 404)),
    "export": ("get", "{c}/export?format=ris", None, (200, 200, 200, 404)),
}
ROLES = ("owner", "coauthor", "viewer", "outsider")


@pytest.mark.parametrize("role_index", range(4), ids=ROLES)
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_permission_matrix(
    client: Client, world: dict[str, Any], request: pytest.FixtureRequest, endpoint: str, role_index: int
) -> None:
    method, template, body, expected = ENDPOINTS[endpoint]
    user = request.getfixturevalue(ROLES[role_index])
    url = BASE + "/" + template.format(c=world["collection"].pk, i=world["item"].pk, s=world["snapshot"].pk)
    if body and body.get("record") == "R2":
        body = {**body, "record": world["records"][2].pmid}
    response = call(client, method, url, user, body)
    assert response.status_code == expected[role_index], response.content
    if expected[role_index] == 404:
        assert b"Hypertension" not in response.content and b"first" not in response.content


def test_anonymous_callers_get_401(client: Client, world: dict[str, Any]) -> None:
    assert client.get(BASE).status_code == 401
    assert client.get(f"{BASE}/{world['collection'].pk}").status_code == 401
    assert call(client, "post", BASE, None, {"name": "x"}).status_code == 401


def test_a_wrong_or_revoked_token_is_refused(client: Client, owner: User) -> None:
    assert client.get(BASE, HTTP_AUTHORIZATION="Bearer ept_not-a-token").status_code == 401
    token, key = api_token_create(user=owner, name="t")
    token.delete()
    assert client.get(BASE, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_create_with_a_name_returns_the_id(client: Client, owner: User) -> None:
    response = call(client, "post", BASE, owner, {"name": "Statins"})
    assert response.status_code == 201
    created = response.json()
    assert created["id"] == Collection.objects.get(name="Statins").pk
    assert created["access"] == "own"
    listed = call(client, "get", BASE, owner).json()
    assert [c["id"] for c in listed] == [created["id"]]


def test_outsiders_list_does_not_include_others_collections(client: Client, world: dict, outsider: User) -> None:
    assert call(client, "get", BASE, outsider).json() == []


def test_add_item_by_pmid_and_guideline_id_returns_ids(client: Client, world: dict, owner: User) -> None:
    url = f"{BASE}/{world['collection'].pk}/items"
    by_pmid = call(client, "post", url, owner, {"record": world["records"][2].pmid, "note": "Cohort"})
    by_guideline = call(client, "post", url, owner, {"record": "hypertension-2021"})
    assert by_pmid.status_code == by_guideline.status_code == 201
    assert by_pmid.json()["id"] and by_pmid.json()["note"] == "Cohort"
    assert by_guideline.json()["record"] == "uspstf:hypertension-2021"
    duplicate = call(client, "post", url, owner, {"record": "hypertension-2021"})
    assert duplicate.status_code == 409 and "already" in duplicate.json()["detail"]
    assert call(client, "post", url, owner, {"record": "nope"}).status_code == 404


def test_item_patch_sets_decision_certainty_tags_and_moves(client: Client, world: dict, owner: User) -> None:
    url = f"{BASE}/{world['collection'].pk}/items/{world['item'].pk}"
    body = {"decision": "exclude", "exclusion_reason": "Wrong comparator", "certainty": "low", "tags": ["a"]}
    response = call(client, "patch", url, owner, {**body, "move": "down"})
    assert response.status_code == 200
    data = response.json()
    assert (data["decision"], data["exclusion_reason"], data["certainty"], data["tags"]) == (
        "exclude",
        "Wrong comparator",
        "low",
        ["a"],
    )
    assert data["position"] == 2
    bad = call(client, "patch", url, owner, {"certainty": "excellent"})
    assert bad.status_code == 422


def test_item_of_another_collection_is_404_through_my_collection(
    client: Client, world: dict, outsider: User, records: list[EvidenceRecord]
) -> None:
    mine = services.collection_create(user=outsider, name="Mine")
    mine_url = f"{BASE}/{mine.pk}"
    item, snapshot = world["item"], world["snapshot"]
    assert call(client, "patch", f"{mine_url}/items/{item.pk}", outsider, {"note": "x"}).status_code == 404
    assert call(client, "delete", f"{mine_url}/items/{item.pk}", outsider).status_code == 404
    assert call(client, "get", f"{mine_url}/snapshots/{snapshot.pk}", outsider).status_code == 404
    item.refresh_from_db()
    assert item.note == "first"


def test_snapshot_endpoint_returns_the_frozen_items_and_flags(client: Client, world: dict, owner: User) -> None:
    record = world["records"][0]
    record.retracted = True
    record.version = 3
    record.save()
    url = f"{BASE}/{world['collection'].pk}/snapshots/{world['snapshot'].pk}"
    data = call(client, "get", url, owner).json()
    assert data["id"] == world["snapshot"].pk and len(data["content_hash"]) == 64
    first = data["items"][0]
    assert (first["record_version"], first["retracted"], first["note"]) == (1, False, "first")
    assert "retracted since this snapshot" in first["flags"]


def test_freeze_returns_the_snapshot_id(client: Client, world: dict, coauthor: User) -> None:
    response = call(client, "post", f"{BASE}/{world['collection'].pk}/snapshots", coauthor, {"label": "Panel 2"})
    assert response.status_code == 201
    assert response.json()["id"] and response.json()["number"] == 2


@pytest.mark.parametrize("fmt", ["ris", "bibtex", "csv", "json", "table-csv"])
def test_export_formats(client: Client, world: dict, viewer: User, fmt: str) -> None:
    response = call(client, "get", f"{BASE}/{world['collection'].pk}/export?format={fmt}", viewer)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    if fmt == "ris":
        assert len(rispy.loads(response.content.decode())) == 2


def test_unknown_export_format_is_422(client: Client, world: dict, owner: User) -> None:
    assert call(client, "get", f"{BASE}/{world['collection'].pk}/export?format=docx", owner).status_code == 422


def test_archive_and_unarchive_through_patch(client: Client, world: dict, owner: User, coauthor: User) -> None:
    url = f"{BASE}/{world['collection'].pk}"
    assert call(client, "patch", url, coauthor, {"archived": True}).status_code == 403
    assert call(client, "patch", url, owner, {"archived": True}).json()["archived"] is True
    add = call(client, "post", f"{url}/items", owner, {"record": world["records"][2].pmid})
    assert add.status_code == 403
    assert call(client, "patch", url, owner, {"archived": False}).json()["archived"] is False


def test_session_auth_needs_the_csrf_token_on_writes(world: dict, owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get(BASE).status_code == 200
    response = client.post(BASE, data=json.dumps({"name": "x"}), content_type="application/json")
    assert response.status_code == 403
    assert not Collection.objects.filter(name="x").exists()


def test_openapi_schema_documents_every_endpoint(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    expected = {
        "/api/v1/collections": {"get", "post"},
        "/api/v1/collections/{collection_id}": {"get", "patch", "delete"},
        "/api/v1/collections/{collection_id}/items": {"get", "post"},
        "/api/v1/collections/{collection_id}/items/{item_id}": {"patch", "delete"},
        "/api/v1/collections/{collection_id}/snapshots": {"post"},
        "/api/v1/collections/{collection_id}/snapshots/{snapshot_id}": {"get"},
        "/api/v1/collections/{collection_id}/export": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    schemes = schema["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} >= {"http", "apiKey"}
