"""Collection pages: every page across owner, co-authors and an outsider; CSRF; the whole flow."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from curation import services, snapshots
from curation.models import Collection, CollectionItem
from records.models import EvidenceRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(collection: Collection, owner: User, records: list[EvidenceRecord]) -> dict[str, Any]:
    item = services.item_add(user=owner, collection=collection, record=records[0].pmid, note="secret note")
    services.item_add(user=owner, collection=collection, record=records[1].pmid)
    snapshot = snapshots.snapshot_create(user=owner, collection=collection)
    saved = services.saved_search_create(user=owner, collection=collection, query="statin")
    return {"c": collection, "item": item, "snapshot": snapshot, "saved": saved, "records": records}


PAGES = {
    # name: (method, path template, data, expected for owner, coauthor (edit), viewer, outsider)
    "detail": ("get", "{c}/", None, (200, 200, 200, 404)),
    "table": ("get", "{c}/table", None, (200, 200, 200, 404)),
    "export": ("get", "{c}/export/ris", None, (200, 200, 200, 404)),
    "snapshot": ("get", "{c}/snapshots/{s}/", None, (200, 200, 200, 404)),
    "snapshot_export": ("get", "{c}/snapshots/{s}/export/csv", None, (200, 200, 200, 404)),
    "snapshot_table": ("get", "{c}/snapshots/{s}/table", None, (200, 200, 200, 404)),
    "diff": ("get", "{c}/snapshots/diff?a={s}&b={s}", None, (200, 200, 200, 404)),
    "edit": ("post", "{c}/edit", {"name": "Renamed"}, (302, 302, 403, 404)),
    "item_add": ("post", "{c}/items/add", {"record": "R2"}, (302, 302, 403, 404)),
    "item_edit": ("post", "{c}/items/{i}/edit", {"note": "x", "decision": "include"}, (302, 302, 403, 404)),
    "item_move": ("post", "{c}/items/{i}/move", {"direction": "down"}, (302, 302, 403, 404)),
    "reorder": ("post", "{c}/items/reorder", {"order": "ORDER"}, (302, 302, 403, 404)),
    "item_remove": ("post", "{c}/items/{i}/remove", {}, (302, 302, 403, 404)),
    "freeze": ("post", "{c}/snapshots/new", {"label": "x"}, (302, 302, 403, 404)),
    "search_add": ("post", "{c}/searches/add", {"query": "aspirin"}, (302, 302, 403, 404)),
    "search_delete": ("post", "{c}/searches/{ss}/delete", {}, (302, 302, 403, 404)),
    "share": ("post", "{c}/share", {"username": "oscar", "role": "view"}, (302, 403, 403, 404)),
    "link": ("post", "{c}/link", {}, (302, 403, 403, 404)),
    "archive": ("post", "{c}/archive", {"archived": "1"}, (302, 403, 403, 404)),
    "delete_confirm": ("get", "{c}/delete", None, (200, 403, 403, 404)),
    "delete": ("post", "{c}/delete", {"confirm": "Hypertension in adults"}, (302, 403, 403, 404)),
}
ROLES = ("owner", "coauthor", "viewer", "outsider")


@pytest.mark.parametrize("role_index", range(4), ids=ROLES)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_permissions(
    client: Client, world: dict[str, Any], request: pytest.FixtureRequest, page: str, role_index: int
) -> None:
    method, template, data, expected = PAGES[page]
    client.force_login(request.getfixturevalue(ROLES[role_index]))
    url = "/collections/" + template.format(
        c=world["c"].pk, i=world["item"].pk, s=world["snapshot"].pk, ss=world["saved"].pk
    )
    if data and data.get("record") == "R2":
        data = {**data, "record": world["records"][2].pmid}
    if data and data.get("order") == "ORDER":
        data = {
            "order": ",".join(str(pk) for pk in world["c"].items.order_by("-position").values_list("pk", flat=True))
        }
    response = getattr(client, method)(url, data)
    assert response.status_code == expected[role_index]
    if expected[role_index] == 404:
        assert b"secret note" not in response.content


def test_signed_out_visitors_are_sent_to_sign_in(client: Client, world: dict[str, Any]) -> None:
    response = client.get(f"/collections/{world['c'].pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_searching_never_needs_an_account(client: Client) -> None:
    assert client.get("/").status_code == 200


def test_every_form_needs_the_csrf_token(world: dict[str, Any], owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get(f"/collections/{world['c'].pk}/").content.decode()
    forms = re.findall(r'<form method="post"[^>]*>(.*?)</form>', page, flags=re.S)
    assert forms and all("csrfmiddlewaretoken" in form for form in forms)
    response = client.post(f"/collections/{world['c'].pk}/items/{world['item'].pk}/remove")
    assert response.status_code == 403
    assert CollectionItem.objects.filter(pk=world["item"].pk).exists()


def test_item_of_another_collection_cannot_be_reached_through_mine(
    client: Client, world: dict[str, Any], outsider: User
) -> None:
    mine = services.collection_create(user=outsider, name="Mine")
    client.force_login(outsider)
    item, snapshot = world["item"], world["snapshot"]
    assert client.post(f"/collections/{mine.pk}/items/{item.pk}/remove").status_code == 404
    assert (
        client.post(f"/collections/{mine.pk}/items/{item.pk}/edit", {"note": "x", "decision": "include"}).status_code
        == 404
    )
    assert client.get(f"/collections/{mine.pk}/snapshots/{snapshot.pk}/").status_code == 404
    assert client.get(f"/collections/{mine.pk}/snapshots/{snapshot.pk}/export/json").status_code == 404
    assert client.get(f"/collections/{mine.pk}/snapshots/diff?a={snapshot.pk}&b={snapshot.pk}").status_code == 404
    assert CollectionItem.objects.get(pk=item.pk).note == "secret note"


def test_detail_page_shows_items_summary_and_history(client: Client, world: dict[str, Any], owner: User) -> None:
    client.force_login(owner)
    page = client.get(f"/collections/{world['c'].pk}/").content.decode()
    assert world["records"][0].title in page
    assert 'data-decision="undecided">2<' in page
    assert "Froze snapshot v1" in page and "Added " in page
    assert "Move up" in page


def test_bad_form_input_shows_an_error_and_changes_nothing(client: Client, world: dict[str, Any], owner: User) -> None:
    client.force_login(owner)
    url = f"/collections/{world['c'].pk}/items/{world['item'].pk}/edit"
    response = client.post(url, {"note": "x", "decision": "include", "exclusion_reason": "why"}, follow=True)
    assert "only goes with" in response.content.decode()
    assert CollectionItem.objects.get(pk=world["item"].pk).note == "secret note"
    response = client.post(f"/collections/{world['c'].pk}/items/add", {"record": "00000"}, follow=True)
    assert "No record" in response.content.decode()


def test_delete_needs_the_typed_name(client: Client, world: dict[str, Any], owner: User) -> None:
    client.force_login(owner)
    response = client.post(f"/collections/{world['c'].pk}/delete", {"confirm": "wrong"})
    assert response.status_code == 200 and Collection.objects.filter(pk=world["c"].pk).exists()


def test_add_to_collection_button_adds_and_returns(client: Client, world: dict[str, Any], coauthor: User) -> None:
    client.force_login(coauthor)
    record = world["records"][3]
    response = client.post(
        "/collections/add",
        {"collection": world["c"].pk, "record": record.uid, "note": "from search", "next": "/search?q=bp"},
    )
    assert response.status_code == 302 and response["Location"] == "/search?q=bp"
    assert world["c"].items.get(record=record).note == "from search"
    evil = client.post(
        "/collections/add", {"collection": world["c"].pk, "record": "x", "next": "https://evil.example/"}
    )
    assert evil["Location"] == "/collections/"


def test_add_to_collection_of_someone_else_is_404(client: Client, world: dict[str, Any], outsider: User) -> None:
    client.force_login(outsider)
    response = client.post("/collections/add", {"collection": world["c"].pk, "record": world["records"][3].uid})
    assert response.status_code == 404


def test_read_only_link_shows_without_edit_controls_and_dies_on_revoke(
    client: Client, world: dict[str, Any], owner: User
) -> None:
    token = services.share_link_create(user=owner, collection=world["c"])
    page = client.get(f"/collections/shared/{token}/")
    assert page.status_code == 200 and b"secret note" in page.content
    assert b"Move up" not in page.content and b"csrfmiddlewaretoken" not in page.content
    services.share_link_revoke(user=owner, collection=world["c"])
    assert client.get(f"/collections/shared/{token}/").status_code == 404
    assert client.get("/collections/shared/guess/").status_code == 404


def test_snapshot_page_says_retracted_since(client: Client, world: dict[str, Any], viewer: User) -> None:
    record = world["records"][0]
    record.retracted = True
    record.save()
    client.force_login(viewer)
    page = client.get(f"/collections/{world['c'].pk}/snapshots/{world['snapshot'].pk}/").content.decode()
    assert "Retracted since this snapshot" in page
    assert world["snapshot"].content_hash in page and "verified" in page


def test_evidence_table_page_groups_by_level(client: Client, world: dict[str, Any], owner: User) -> None:
    client.force_login(owner)
    page = client.get(f"/collections/{world['c'].pk}/table").content.decode()
    assert page.index('data-level="systematic_review"') < page.index('data-level="rct"')


def test_invitation_signup_creates_an_author_who_can_create_collections(client: Client, db: None) -> None:
    call_command("invite_author", "new.author@example.org", stdout=io.StringIO())
    link = re.search(r"http://\S+/accounts/signup/\S+/", mail.outbox[0].body).group(0)
    path = link.split("8000", 1)[1]
    response = client.post(
        path, {"username": "newbie", "password1": "a-long-pass-phrase-1", "password2": "a-long-pass-phrase-1"}
    )
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.email == "new.author@example.org"
    assert client.post("/collections/", {"name": "First"}).status_code == 302
    assert Collection.objects.filter(owner=user, name="First").exists()
    client.logout()
    assert client.get(path).status_code == 404  # used once


def test_signup_with_a_weak_password_keeps_the_invitation(client: Client, db: None) -> None:
    call_command("invite_author", "x@example.org", stdout=io.StringIO())
    path = re.search(r"/accounts/signup/\S+/", mail.outbox[0].body).group(0)
    response = client.post(path, {"username": "x", "password1": "123", "password2": "123"})
    assert response.status_code == 200 and not User.objects.filter(username="x").exists()
    assert client.get(path).status_code == 200


def test_password_reset_mails_a_link(client: Client, owner: User) -> None:
    response = client.post("/accounts/password_reset/", {"email": owner.email})
    assert response.status_code == 302
    assert "/accounts/reset/" in mail.outbox[0].body


def test_sign_in_page_renders(client: Client, db: None) -> None:
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content


def test_api_token_page_shows_a_new_token_once(client: Client, owner: User) -> None:
    client.force_login(owner)
    page = client.post("/accounts/tokens/", {"name": "laptop"}).content.decode()
    key = re.search(r'value="(ept_[^"]+)"', page).group(1)
    assert client.get("/api/v1/collections", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert key not in client.get("/accounts/tokens/").content.decode()


def test_collection_page_queries_do_not_grow_with_items(
    client: Client, owner: User, collection: Collection, django_assert_max_num_queries: Any
) -> None:
    from tests.factories import EvidenceRecordFactory

    client.force_login(owner)
    url = f"/collections/{collection.pk}/"
    for _ in range(3):
        services.item_add(user=owner, collection=collection, record=EvidenceRecordFactory().uid)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(12):
        services.item_add(user=owner, collection=collection, record=EvidenceRecordFactory().uid)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_drag_and_drop_order_is_saved_and_bad_orders_are_refused(
    client: Client, world: dict[str, Any], coauthor: User
) -> None:
    client.force_login(coauthor)
    ids = list(world["c"].items.order_by("position").values_list("pk", flat=True))
    url = f"/collections/{world['c'].pk}/items/reorder"
    assert client.post(url, {"order": ",".join(str(i) for i in reversed(ids))}).status_code == 302
    assert list(world["c"].items.order_by("position").values_list("pk", flat=True)) == list(reversed(ids))
    response = client.post(url, {"order": "1,x"}, follow=True)
    assert "item ids" in response.content.decode()
    response = client.post(url, {"order": str(ids[0])}, follow=True)
    assert "every item" in response.content.decode()
    assert list(world["c"].items.order_by("position").values_list("pk", flat=True)) == list(reversed(ids))


def test_sign_in_and_out_with_the_forms(client: Client, owner: User) -> None:
    response = client.post("/accounts/login/", {"username": "olivia", "password": "pw-olivia", "next": "/collections/"})
    assert response.status_code == 302 and response["Location"] == "/collections/"
    assert client.get("/collections/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/collections/").status_code == 302


def test_staff_administer_collections_in_the_admin(client: Client, world: dict[str, Any], owner: User) -> None:
    client.force_login(owner)
    assert client.get("/admin/curation/collection/").status_code == 302  # not staff: sent to the admin login
    admin = User.objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(admin)
    assert b"Hypertension in adults" in client.get("/admin/curation/collection/").content
    assert client.get(f"/admin/curation/snapshot/{world['snapshot'].pk}/change/").status_code == 200
    assert client.post(f"/admin/curation/snapshot/{world['snapshot'].pk}/delete/").status_code == 403


def test_record_page_offers_add_to_collection_to_editors_only(
    client: Client, world: dict[str, Any], coauthor: User, viewer: User
) -> None:
    url = f"/records/{world['records'][2].pmid}"
    assert b"add-to-collection" not in client.get(url).content
    client.force_login(viewer)
    assert b"add-to-collection" not in client.get(url).content
    client.force_login(coauthor)
    page = client.get(url).content.decode()
    assert 'class="add-to-collection"' in page
    assert f'<option value="{world["c"].pk}">Hypertension in adults</option>' in page


def test_revoked_api_token_stops_working(client: Client, owner: User) -> None:
    client.force_login(owner)
    page = client.post("/accounts/tokens/", {"name": "laptop"}).content.decode()
    key = re.search(r'value="(ept_[^"]+)"', page).group(1)
    token_id = re.search(r"/accounts/tokens/(\d+)/revoke", page).group(1)
    assert client.post(f"/accounts/tokens/{token_id}/revoke").status_code == 302
    client.logout()
    assert client.get("/api/v1/collections", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
