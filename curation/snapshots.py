"""Freezing a collection into an immutable, hashed snapshot; comparing snapshots."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext

from curation.models import Collection, Snapshot, SnapshotItem
from curation.permissions import Access, InvalidInput, UserLike, require_access
from curation.selectors import collection_items, snapshot_items
from curation.services import audit

# The fields of an item that the content hash covers, in this order.
HASHED_ITEM_FIELDS = (
    "position",
    "record_uid",
    "pmid",
    "record_version",
    "record_content_hash",
    "kind",
    "title",
    "authors",
    "journal",
    "publication_year",
    "publication_date_raw",
    "doi",
    "url",
    "issuing_body",
    "publication_types",
    "evidence_level",
    "retracted",
    "note",
    "tags",
    "decision",
    "exclusion_reason",
    "certainty",
)
# What a diff reports as "changed" for an item present in both snapshots.
DIFFED_ITEM_FIELDS = ("record_version", "evidence_level", "retracted", "note", "tags", "decision", "certainty")


def content_hash(name: str, description: str, items: list[dict[str, Any]]) -> str:
    """Return the SHA-256 of the snapshot's canonical JSON (name, description, items in order)."""
    payload = {
        "name": name,
        "description": description,
        "items": [{key: item[key] for key in HASHED_ITEM_FIELDS} for item in items],
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _item_values(snapshot_item: SnapshotItem) -> dict[str, Any]:
    return {key: getattr(snapshot_item, key) for key in HASHED_ITEM_FIELDS}


@transaction.atomic
def snapshot_create(*, user: UserLike, collection: Collection, label: str = "") -> Snapshot:
    """Freeze the collection as it is now; needs edit access. Returns the new snapshot."""
    require_access(user, collection, Access.EDIT)
    if len(label or "") > 200:
        raise InvalidInput("The label is longer than 200 characters")
    # Lock the collection row so two freezes cannot take the same number.
    Collection.objects.select_for_update().filter(pk=collection.pk).first()
    rows: list[dict[str, Any]] = []
    for position, item in enumerate(collection_items(collection), start=1):
        record = item.record
        rows.append(
            {
                "record": record,
                "position": position,
                "record_uid": record.uid,
                "pmid": record.pmid,
                "record_version": record.version,
                "record_content_hash": record.content_hash,
                "kind": record.kind,
                "title": record.title,
                "authors": list(record.authors or []),
                "journal": record.journal,
                "publication_year": record.publication_year,
                "publication_date_raw": record.publication_date_raw,
                "doi": record.doi,
                "url": record.url,
                "issuing_body": record.issuing_body,
                "publication_types": list(record.publication_types or []),
                "evidence_level": record.evidence_level or "",
                "retracted": record.retracted,
                "note": item.note,
                "tags": list(item.tags or []),
                "decision": item.decision,
                "exclusion_reason": item.exclusion_reason,
                "certainty": item.certainty,
            }
        )
    number = (collection.snapshots.aggregate(top=Max("number"))["top"] or 0) + 1
    snapshot = Snapshot.objects.create(
        collection=collection,
        number=number,
        label=label or "",
        name=collection.name,
        description=collection.description,
        content_hash=content_hash(collection.name, collection.description, rows),
        item_count=len(rows),
        created_by_id=user.pk,
    )
    SnapshotItem.objects.bulk_create(SnapshotItem(snapshot=snapshot, **row) for row in rows)
    audit(
        collection,
        user,
        "snapshot_created",
        f"Froze snapshot v{number} ({len(rows)} items)",
        snapshot=snapshot.pk,
        content_hash=snapshot.content_hash,
    )
    return snapshot


def snapshot_verify(snapshot: Snapshot) -> bool:
    """Return True when the stored items still hash to the snapshot's content hash."""
    items = [_item_values(item) for item in snapshot.items.order_by("position")]
    return content_hash(snapshot.name, snapshot.description, items) == snapshot.content_hash


@dataclass
class ItemStatus:
    """What happened to a snapshot item's record since the snapshot."""

    item: SnapshotItem
    retracted_since: bool = False
    revised_since: bool = False
    withdrawn_since: bool = False
    current_version: int | None = None

    @property
    def flags(self) -> list[str]:
        """What changed since the snapshot, in the active language."""
        labels = []
        if self.retracted_since:
            labels.append(gettext("retracted since this snapshot"))
        if self.revised_since:
            labels.append(
                gettext("revised since this snapshot (now version %(version)s)") % {"version": self.current_version}
            )
        if self.withdrawn_since:
            labels.append(gettext("withdrawn from the source since this snapshot"))
        return labels


def snapshot_item_statuses(snapshot: Snapshot) -> list[ItemStatus]:
    """Return each item (as frozen) with flags comparing it to its record today."""
    statuses = []
    for item in snapshot_items(snapshot):
        record = item.record
        status = ItemStatus(item=item)
        if record is None:
            status.withdrawn_since = True
        else:
            status.current_version = record.version
            status.retracted_since = record.retracted and not item.retracted
            status.revised_since = record.version > item.record_version
            status.withdrawn_since = record.deleted_at is not None
        statuses.append(status)
    return statuses


@dataclass
class SnapshotDiff:
    older: Snapshot
    newer: Snapshot
    added: list[SnapshotItem] = field(default_factory=list)
    removed: list[SnapshotItem] = field(default_factory=list)
    changed: list[tuple[SnapshotItem, SnapshotItem, dict[str, tuple[Any, Any]]]] = field(default_factory=list)
    moved: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved)


def snapshot_diff(older: Snapshot, newer: Snapshot) -> SnapshotDiff:
    """Compare two snapshots of the same collection; InvalidInput for different collections."""
    if older.collection_id != newer.collection_id:
        raise InvalidInput("Both snapshots must belong to the same collection")
    old_items = {item.record_uid: item for item in older.items.order_by("position")}
    new_items = {item.record_uid: item for item in newer.items.order_by("position")}
    diff = SnapshotDiff(older=older, newer=newer)
    diff.added = [item for uid, item in new_items.items() if uid not in old_items]
    diff.removed = [item for uid, item in old_items.items() if uid not in new_items]
    for uid, new in new_items.items():
        old = old_items.get(uid)
        if old is None:
            continue
        changes = {
            key: (getattr(old, key), getattr(new, key))
            for key in DIFFED_ITEM_FIELDS
            if getattr(old, key) != getattr(new, key)
        }
        if changes:
            diff.changed.append((old, new, changes))
    common = [uid for uid in old_items if uid in new_items]
    new_order = [uid for uid in new_items if uid in old_items]
    diff.moved = sum(1 for a, b in zip(common, new_order, strict=True) if a != b)
    return diff


def snapshot_item_dict(item: SnapshotItem) -> dict[str, Any]:
    """Return the frozen item as plain JSON-ready data."""
    return _item_values(item)
