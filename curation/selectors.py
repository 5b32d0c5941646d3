"""Reads: collections a user may see, summaries, records by PMID or id."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from curation.models import (
    AuditEvent,
    Collection,
    CollectionItem,
    Decision,
    NewEvidenceAlert,
    Snapshot,
    SnapshotItem,
)
from curation.permissions import Access, CollectionNotFound, UserLike, require_access
from records.evidence.levels import LEVELS, level_info
from records.models import EvidenceRecord


def collections_visible_to(user: UserLike, *, include_archived: bool = True) -> QuerySet[Collection]:
    """Return the collections the user owns or co-authors (nothing for anonymous users)."""
    if not user.is_authenticated:
        return Collection.objects.none()
    queryset = Collection.objects.filter(Q(owner_id=user.pk) | Q(members__user_id=user.pk)).distinct()
    if not include_archived:
        queryset = queryset.filter(archived_at__isnull=True)
    return queryset.select_related("owner")


def collections_editable_by(user: UserLike) -> QuerySet[Collection]:
    """Return active collections the user may add items to."""
    if not user.is_authenticated:
        return Collection.objects.none()
    return (
        Collection.objects.filter(Q(owner_id=user.pk) | Q(members__user_id=user.pk, members__role="edit"))
        .filter(archived_at__isnull=True)
        .distinct()
    )


def collection_get(*, user: UserLike, collection_id: int, needed: Access = Access.VIEW) -> Collection:
    """Return the collection if the user has ``needed`` access.

    Raises CollectionNotFound when it does not exist or the user may not view it, NotAllowed when
    the user may view it but needs more.
    """
    collection = Collection.objects.select_related("owner").filter(pk=collection_id).first()
    if collection is None:
        raise CollectionNotFound(collection_id)
    require_access(user, collection, needed)
    return collection


def collection_by_share_token(token: str) -> Collection:
    """Return the collection a read-only link points to; CollectionNotFound once revoked."""
    if not token:
        raise CollectionNotFound(token)
    collection = Collection.objects.select_related("owner").filter(share_token=token).first()
    if collection is None:
        raise CollectionNotFound("link")
    return collection


def collection_items(collection: Collection) -> QuerySet[CollectionItem]:
    return collection.items.select_related("record").order_by("position", "id")


def item_get(collection: Collection, item_id: int) -> CollectionItem:
    """Return an item of this collection; an item of another collection is CollectionNotFound."""
    item = CollectionItem.objects.select_related("record").filter(collection=collection, pk=item_id).first()
    if item is None:
        raise CollectionNotFound(item_id)
    return item


def snapshot_get(collection: Collection, snapshot_id: int) -> Snapshot:
    """Return a snapshot of this collection; one of another collection is CollectionNotFound."""
    snapshot = Snapshot.objects.filter(collection=collection, pk=snapshot_id).first()
    if snapshot is None:
        raise CollectionNotFound(snapshot_id)
    return snapshot


def snapshot_items(snapshot: Snapshot) -> QuerySet[SnapshotItem]:
    return snapshot.items.select_related("record").order_by("position")


def record_lookup(identifier: str) -> EvidenceRecord | None:
    """Return the live record for a PMID, a uid ("source:id") or a bare source id (guidelines)."""
    identifier = identifier.strip()
    if not identifier:
        return None
    live = EvidenceRecord.objects.filter(deleted_at__isnull=True)
    if ":" in identifier:
        return live.filter(uid=identifier).first()
    if identifier.isdigit():
        found = live.filter(pmid=identifier).first()
        if found is not None:
            return found
    return live.filter(source_id=identifier).order_by("id").first()


@dataclass
class CollectionSummary:
    total: int = 0
    by_level: list[tuple[str, str, int]] = field(default_factory=list)  # (slug, name, count), scale order
    by_decision: list[tuple[str, str, int]] = field(default_factory=list)


def summarise(levels: list[str | None], decisions: list[str]) -> CollectionSummary:
    """Return counts by evidence level (strongest first) and by decision."""
    level_counts = Counter(level_info(level).level.value for level in levels)
    decision_counts = Counter(decisions)
    return CollectionSummary(
        total=len(decisions),
        by_level=[
            (info.level.value, gettext(info.name), level_counts[info.level.value])
            for info in LEVELS
            if level_counts[info.level.value]
        ],
        by_decision=[(choice.value, str(choice.label), decision_counts[choice.value]) for choice in Decision],
    )


def collection_summary(collection: Collection) -> CollectionSummary:
    rows = list(collection.items.values_list("record__evidence_level", "decision"))
    return summarise([level for level, _ in rows], [decision for _, decision in rows])


def snapshot_summary(snapshot: Snapshot) -> CollectionSummary:
    rows = list(snapshot.items.values_list("evidence_level", "decision"))
    return summarise([level or None for level, _ in rows], [decision for _, decision in rows])


def audit_trail(collection: Collection, *, limit: int = 100) -> QuerySet[AuditEvent]:
    return collection.audit_events.select_related("actor")[:limit]


def open_alerts(collection: Collection) -> QuerySet[NewEvidenceAlert]:
    """Return undismissed new-evidence alerts whose record is not already in the collection."""
    in_collection = collection.items.values("record_id")
    return (
        NewEvidenceAlert.objects.filter(saved_search__collection=collection, dismissed_at__isnull=True)
        .exclude(record_id__in=in_collection)
        .select_related("record", "saved_search")
    )
