"""Snapshots: immutable, hashed, re-opened exactly, flagged when records change, diffed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from curation import services, snapshots
from curation.models import Collection, ImmutableError, Snapshot, SnapshotItem
from curation.permissions import InvalidInput, NotAllowed
from records.models import EvidenceRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(collection: Collection, owner: User, records: list[EvidenceRecord]) -> Collection:
    for record, note in zip(records[:3], ("Pivotal trial", "Pooled estimate", "Long follow-up"), strict=True):
        services.item_add(user=owner, collection=collection, record=record.uid, note=note)
    return collection


def _frozen(snapshot: Snapshot) -> list[tuple]:
    return list(
        snapshot.items.order_by("position").values_list(
            "record_uid", "pmid", "record_version", "title", "evidence_level", "retracted", "note", "decision"
        )
    )


def test_snapshot_records_pmid_version_and_note_with_a_content_hash(filled: Collection, owner: User) -> None:
    snapshot = snapshots.snapshot_create(user=owner, collection=filled, label="Draft for panel")
    assert (snapshot.number, snapshot.item_count, snapshot.name) == (1, 3, "Hypertension in adults")
    first = snapshot.items.order_by("position").first()
    assert (first.record_version, first.note) == (1, "Pivotal trial")
    assert first.pmid and len(snapshot.content_hash) == 64
    assert snapshots.snapshot_verify(snapshot)
    assert snapshots.snapshot_create(user=owner, collection=filled).number == 2


def test_same_content_gives_the_same_hash_and_a_changed_note_another(filled: Collection, owner: User) -> None:
    one = snapshots.snapshot_create(user=owner, collection=filled)
    two = snapshots.snapshot_create(user=owner, collection=filled)
    assert one.content_hash == two.content_hash
    item = filled.items.first()
    services.item_update(user=owner, item=item, note="Changed")
    assert snapshots.snapshot_create(user=owner, collection=filled).content_hash != one.content_hash


def test_snapshot_is_unchanged_after_records_are_revised_and_retracted_and_says_so(
    filled: Collection, owner: User, records: list[EvidenceRecord]
) -> None:
    snapshot = snapshots.snapshot_create(user=owner, collection=filled)
    before = _frozen(snapshot)
    revised, retracted = records[0], records[1]
    revised.title = "A corrected title"
    revised.version = 2
    revised.save()
    retracted.retracted = True
    retracted.version = 2
    retracted.save()
    services.item_update(user=owner, item=filled.items.get(record=revised), note="Edited later")
    services.item_remove(user=owner, item=filled.items.get(record=records[2]))

    snapshot = Snapshot.objects.get(pk=snapshot.pk)
    assert _frozen(snapshot) == before
    assert snapshots.snapshot_verify(snapshot)
    flags = {status.item.record_uid: status.flags for status in snapshots.snapshot_item_statuses(snapshot)}
    assert flags[revised.uid] == ["revised since this snapshot (now version 2)"]
    assert "retracted since this snapshot" in flags[retracted.uid]
    assert flags[records[2].uid] == []


def test_withdrawn_record_is_flagged(filled: Collection, owner: User, records: list[EvidenceRecord]) -> None:
    snapshot = snapshots.snapshot_create(user=owner, collection=filled)
    EvidenceRecord.objects.filter(pk=records[0].pk).update(deleted_at=timezone.now())
    statuses = snapshots.snapshot_item_statuses(snapshot)
    assert statuses[0].withdrawn_since and not statuses[1].withdrawn_since


def test_snapshot_rows_refuse_to_change_or_be_deleted(filled: Collection, owner: User) -> None:
    snapshot = snapshots.snapshot_create(user=owner, collection=filled)
    snapshot.label = "tampered"
    with pytest.raises(ImmutableError):
        snapshot.save()
    item = snapshot.items.first()
    item.note = "tampered"
    with pytest.raises(ImmutableError):
        item.save()
    with pytest.raises(ImmutableError):
        item.delete()
    assert SnapshotItem.objects.get(pk=item.pk).note == "Pivotal trial"


def test_tampering_behind_the_model_is_detected_by_the_hash(filled: Collection, owner: User) -> None:
    snapshot = snapshots.snapshot_create(user=owner, collection=filled)
    SnapshotItem.objects.filter(snapshot=snapshot, position=1).update(note="rewritten")
    assert not snapshots.snapshot_verify(snapshot)


def test_viewer_cannot_freeze(filled: Collection, viewer: User) -> None:
    with pytest.raises(NotAllowed):
        snapshots.snapshot_create(user=viewer, collection=filled)


def test_diff_lists_added_removed_and_changed_items(
    filled: Collection, owner: User, records: list[EvidenceRecord]
) -> None:
    older = snapshots.snapshot_create(user=owner, collection=filled)
    services.item_remove(user=owner, item=filled.items.get(record=records[2]))
    services.item_add(user=owner, collection=filled, record=records[3].uid)
    services.item_update(user=owner, item=filled.items.get(record=records[0]), decision="include", certainty="high")
    newer = snapshots.snapshot_create(user=owner, collection=filled)
    diff = snapshots.snapshot_diff(older, newer)
    assert [item.record_uid for item in diff.added] == [records[3].uid]
    assert [item.record_uid for item in diff.removed] == [records[2].uid]
    assert [(old.record_uid, sorted(changes)) for old, _, changes in diff.changed] == [
        (records[0].uid, ["certainty", "decision"])
    ]
    assert snapshots.snapshot_diff(newer, newer).is_empty


def test_diff_of_snapshots_from_different_collections_is_refused(filled: Collection, owner: User) -> None:
    other = services.collection_create(user=owner, name="Other")
    with pytest.raises(InvalidInput):
        snapshots.snapshot_diff(
            snapshots.snapshot_create(user=owner, collection=filled),
            snapshots.snapshot_create(user=owner, collection=other),
        )
