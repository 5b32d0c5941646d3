"""Service-level tests: each action on collections, items, sharing and saved searches."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from curation import selectors, services
from curation.models import AuditEvent, Collection, CollectionItem, Decision
from curation.permissions import CollectionNotFound, InvalidInput, NotAllowed
from records.models import EvidenceRecord
from tests.curation.conftest import make_user

pytestmark = pytest.mark.django_db


def test_guideline_author_creates_a_private_collection(owner: User, outsider: User) -> None:
    collection = services.collection_create(user=owner, name="  Statins   for primary prevention ")
    assert collection.name == "Statins for primary prevention"
    assert collection.owner == owner
    assert list(selectors.collections_visible_to(outsider)) == []
    assert list(selectors.collections_visible_to(owner)) == [collection]


def test_user_outside_the_authors_group_cannot_create_a_collection(db: None) -> None:
    reader = make_user("reader", author=False)
    with pytest.raises(NotAllowed):
        services.collection_create(user=reader, name="Mine")
    assert Collection.objects.count() == 0


def test_staff_can_create_collections_without_the_group(db: None) -> None:
    admin = User.objects.create_user("admin", is_staff=True)
    assert services.collection_create(user=admin, name="Admin's").owner == admin


def test_blank_name_is_refused_with_a_clear_error(owner: User) -> None:
    with pytest.raises(InvalidInput, match="needs a name"):
        services.collection_create(user=owner, name="   ")


def test_rename_and_describe_are_audited(collection: Collection, coauthor: User) -> None:
    services.collection_update(user=coauthor, collection=collection, name="Hypertension", description="New")
    collection.refresh_from_db()
    assert (collection.name, collection.description) == ("Hypertension", "New")
    event = collection.audit_events.first()
    assert event.actor == coauthor
    assert event.action == "updated"
    assert event.detail["changes"]["name"] == ["Hypertension in adults", "Hypertension"]


def test_viewer_cannot_rename(collection: Collection, viewer: User) -> None:
    with pytest.raises(NotAllowed):
        services.collection_update(user=viewer, collection=collection, name="Mine now")


def test_outsider_is_told_the_collection_does_not_exist(collection: Collection, outsider: User) -> None:
    with pytest.raises(CollectionNotFound):
        selectors.collection_get(user=outsider, collection_id=collection.pk)
    with pytest.raises(CollectionNotFound):
        services.collection_update(user=outsider, collection=collection, name="x")


def test_archived_collection_is_read_only_until_unarchived(
    collection: Collection, owner: User, records: list[EvidenceRecord]
) -> None:
    services.collection_set_archived(user=owner, collection=collection, archived=True)
    with pytest.raises(NotAllowed, match="archived"):
        services.item_add(user=owner, collection=collection, record=records[0].pmid)
    services.collection_set_archived(user=owner, collection=collection, archived=False)
    assert services.item_add(user=owner, collection=collection, record=records[0].pmid).pk


def test_only_the_owner_archives_or_deletes(collection: Collection, coauthor: User, owner: User) -> None:
    with pytest.raises(NotAllowed):
        services.collection_set_archived(user=coauthor, collection=collection, archived=True)
    with pytest.raises(NotAllowed):
        services.collection_delete(user=coauthor, collection=collection)
    services.collection_delete(user=owner, collection=collection)
    assert not Collection.objects.filter(pk=collection.pk).exists()


def test_add_by_pmid_guideline_id_or_uid(collection: Collection, coauthor: User, records: list[EvidenceRecord]) -> None:
    by_pmid = services.item_add(user=coauthor, collection=collection, record=records[0].pmid, note="Key RCT")
    by_guideline_id = services.item_add(user=coauthor, collection=collection, record="hypertension-2021")
    by_uid = services.item_add(user=coauthor, collection=collection, record=records[1].uid)
    assert [by_pmid.record, by_guideline_id.record, by_uid.record] == [records[0], records[3], records[1]]
    assert [item.position for item in (by_pmid, by_guideline_id, by_uid)] == [1, 2, 3]
    assert by_pmid.note == "Key RCT"
    assert collection.audit_events.filter(action="item_added").count() == 3


def test_unknown_or_duplicate_record_is_a_clear_error_and_changes_nothing(
    collection: Collection, owner: User, records: list[EvidenceRecord]
) -> None:
    with pytest.raises(InvalidInput, match="No record"):
        services.item_add(user=owner, collection=collection, record="99999999999")
    services.item_add(user=owner, collection=collection, record=records[0].pmid)
    with pytest.raises(InvalidInput, match="already in"):
        services.item_add(user=owner, collection=collection, record=records[0].uid)
    assert collection.items.count() == 1


def test_deleted_records_cannot_be_added(collection: Collection, owner: User, records: list[EvidenceRecord]) -> None:
    from django.utils import timezone

    EvidenceRecord.objects.filter(pk=records[0].pk).update(deleted_at=timezone.now())
    with pytest.raises(InvalidInput):
        services.item_add(user=owner, collection=collection, record=records[0].pmid)


def test_item_note_tags_decision_and_certainty(
    collection: Collection, owner: User, records: list[EvidenceRecord]
) -> None:
    item = services.item_add(user=owner, collection=collection, record=records[0].pmid)
    services.item_update(
        user=owner,
        item=item,
        note="Low risk of bias",
        tags="primary outcome, adults ,adults",
        decision=Decision.EXCLUDE,
        exclusion_reason="Wrong population",
        certainty="moderate",
    )
    item.refresh_from_db()
    assert item.tags == ["primary outcome", "adults"]
    assert (item.decision, item.exclusion_reason, item.certainty) == ("exclude", "Wrong population", "moderate")
    services.item_update(user=owner, item=item, decision=Decision.INCLUDE)
    item.refresh_from_db()
    assert (item.decision, item.exclusion_reason) == ("include", "")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"decision": "maybe"}, "Decision must be"),
        ({"certainty": "excellent"}, "Certainty must be"),
        ({"exclusion_reason": "No"}, "only goes with"),
        ({"tags": ["x" * 51]}, "longer than"),
        ({"colour": "red"}, "Unknown item fields"),
    ],
)
def test_bad_item_values_are_refused_and_change_nothing(
    collection: Collection, owner: User, records: list[EvidenceRecord], fields: dict, message: str
) -> None:
    item = services.item_add(user=owner, collection=collection, record=records[0].pmid, note="kept")
    with pytest.raises(InvalidInput, match=message):
        services.item_update(user=owner, item=item, **fields)
    item.refresh_from_db()
    assert (item.note, item.decision, item.certainty, item.tags) == ("kept", "undecided", "", [])


def test_move_buttons_swap_neighbours_and_stop_at_the_ends(
    collection: Collection, owner: User, records: list[EvidenceRecord]
) -> None:
    items = [services.item_add(user=owner, collection=collection, record=r.uid) for r in records[:3]]
    services.item_move(user=owner, item=items[2], direction="up")
    services.item_move(user=owner, item=items[0], direction="up")  # already first
    order = list(selectors.collection_items(collection).values_list("record_id", flat=True))
    assert order == [records[0].pk, records[2].pk, records[1].pk]


def test_reorder_needs_every_item_once(collection: Collection, owner: User, records: list[EvidenceRecord]) -> None:
    items = [services.item_add(user=owner, collection=collection, record=r.uid) for r in records[:3]]
    services.items_reorder(user=owner, collection=collection, item_ids=[items[2].pk, items[0].pk, items[1].pk])
    assert [i.pk for i in selectors.collection_items(collection)] == [items[2].pk, items[0].pk, items[1].pk]
    with pytest.raises(InvalidInput):
        services.items_reorder(user=owner, collection=collection, item_ids=[items[0].pk])


def test_remove_item_is_audited(collection: Collection, coauthor: User, records: list[EvidenceRecord]) -> None:
    item = services.item_add(user=coauthor, collection=collection, record=records[0].pmid)
    services.item_remove(user=coauthor, item=item)
    assert not CollectionItem.objects.filter(pk=item.pk).exists()
    assert collection.audit_events.first().action == "item_removed"


def test_viewer_cannot_add_change_or_remove(
    collection: Collection, owner: User, viewer: User, records: list[EvidenceRecord]
) -> None:
    item = services.item_add(user=owner, collection=collection, record=records[0].pmid)
    with pytest.raises(NotAllowed):
        services.item_add(user=viewer, collection=collection, record=records[1].pmid)
    with pytest.raises(NotAllowed):
        services.item_update(user=viewer, item=item, note="x")
    with pytest.raises(NotAllowed):
        services.item_remove(user=viewer, item=item)


def test_summary_counts_by_level_and_decision(
    collection: Collection, owner: User, records: list[EvidenceRecord]
) -> None:
    items = [services.item_add(user=owner, collection=collection, record=r.uid) for r in records]
    services.item_update(user=owner, item=items[0], decision="include")
    services.item_update(user=owner, item=items[1], decision="include")
    services.item_update(user=owner, item=items[2], decision="exclude", exclusion_reason="Observational")
    summary = selectors.collection_summary(collection)
    assert summary.total == 4
    assert [slug for slug, _, _ in summary.by_level] == ["guideline", "systematic_review", "rct", "cohort"]
    assert {slug: count for slug, _, count in summary.by_decision} == {"undecided": 1, "include": 2, "exclude": 1}


def test_sharing_roles_and_unsharing(collection: Collection, owner: User, outsider: User) -> None:
    member = services.member_set(user=owner, collection=collection, username=outsider.email, role="view")
    assert selectors.collection_get(user=outsider, collection_id=collection.pk) == collection
    services.member_remove(user=owner, collection=collection, member_id=member.pk)
    with pytest.raises(CollectionNotFound):
        selectors.collection_get(user=outsider, collection_id=collection.pk)


def test_only_the_owner_shares(collection: Collection, coauthor: User, outsider: User) -> None:
    with pytest.raises(NotAllowed):
        services.member_set(user=coauthor, collection=collection, username=outsider.username, role="edit")
    with pytest.raises(InvalidInput, match="No user"):
        services.member_set(user=collection.owner, collection=collection, username="nobody", role="edit")


def test_share_link_is_long_and_revocation_takes_effect_at_once(collection: Collection, owner: User) -> None:
    token = services.share_link_create(user=owner, collection=collection)
    assert len(token) >= 43  # 32 random bytes in URL-safe base64: 256 bits
    assert selectors.collection_by_share_token(token) == collection
    replacement = services.share_link_create(user=owner, collection=collection)
    assert replacement != token
    with pytest.raises(CollectionNotFound):
        selectors.collection_by_share_token(token)
    services.share_link_revoke(user=owner, collection=collection)
    with pytest.raises(CollectionNotFound):
        selectors.collection_by_share_token(replacement)
    assert [e.action for e in AuditEvent.objects.filter(collection=collection)[:3]] == [
        "link_revoked",
        "link_created",
        "link_created",
    ]


def test_saved_search_validates_query_and_filters(collection: Collection, coauthor: User, viewer: User) -> None:
    saved = services.saved_search_create(
        user=coauthor, collection=collection, query=" statin  adults ", filters={"year_from": 2020}
    )
    assert saved.query == "statin adults"
    with pytest.raises(InvalidInput):
        services.saved_search_create(user=coauthor, collection=collection, query="  ")
    with pytest.raises(InvalidInput, match="Unknown filters"):
        services.saved_search_create(user=coauthor, collection=collection, query="x", filters={"raw": "*"})
    with pytest.raises(NotAllowed):
        services.saved_search_create(user=viewer, collection=collection, query="x")
