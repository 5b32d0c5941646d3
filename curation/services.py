"""Writes to collections. Every change checks permission and leaves an audit event."""

from __future__ import annotations

import secrets
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from curation.models import (
    AuditEvent,
    Certainty,
    Collection,
    CollectionItem,
    CollectionMember,
    Decision,
    NewEvidenceAlert,
    Role,
    SavedSearch,
)
from curation.permissions import (
    Access,
    Conflict,
    InvalidInput,
    NotAllowed,
    UnknownRecord,
    UserLike,
    is_author,
    require_access,
)
from curation.selectors import record_lookup

MAX_TAGS = 20
MAX_TAG_LENGTH = 50


def audit(collection: Collection, actor: UserLike | None, action: str, summary: str, **detail: Any) -> AuditEvent:
    """Record who did what; returns the event."""
    user_id = actor.pk if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        collection=collection, actor_id=user_id, action=action, summary=summary[:500], detail=detail
    )


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A collection needs a name")
    name = " ".join(name.split())
    if len(name) > 200:
        raise InvalidInput("The name is longer than 200 characters")
    return name


def _require_active(collection: Collection) -> None:
    if collection.is_archived:
        raise NotAllowed("This collection is archived: unarchive it to change it")


# --- Collections ---------------------------------------------------------------------------------


@transaction.atomic
def collection_create(*, user: UserLike, name: str, description: str = "") -> Collection:
    """Create a private collection owned by ``user``; NotAllowed unless a guideline author or staff."""
    if not is_author(user):
        raise NotAllowed("Only guideline authors can create collections")
    collection = Collection.objects.create(
        owner_id=cast(int, user.pk), name=_clean_name(name), description=description or ""
    )
    audit(collection, user, "created", f"Created collection “{collection.name}”")
    return collection


@transaction.atomic
def collection_update(
    *, user: UserLike, collection: Collection, name: str | None = None, description: str | None = None
) -> Collection:
    """Rename and/or describe; needs edit access on an active collection."""
    require_access(user, collection, Access.EDIT)
    _require_active(collection)
    changes: dict[str, list[str]] = {}
    if name is not None:
        cleaned = _clean_name(name)
        if cleaned != collection.name:
            changes["name"] = [collection.name, cleaned]
            collection.name = cleaned
    if description is not None and description != collection.description:
        changes["description"] = [collection.description, description]
        collection.description = description
    if changes:
        collection.save()
        audit(collection, user, "updated", "Changed " + " and ".join(sorted(changes)), changes=changes)
    return collection


@transaction.atomic
def collection_set_archived(*, user: UserLike, collection: Collection, archived: bool) -> Collection:
    """Archive (read-only) or unarchive; owner only."""
    require_access(user, collection, Access.OWN)
    if archived != collection.is_archived:
        collection.archived_at = timezone.now() if archived else None
        collection.save(update_fields=["archived_at", "updated_at"])
        audit(collection, user, "archived" if archived else "unarchived", "Archived" if archived else "Unarchived")
    return collection


@transaction.atomic
def collection_delete(*, user: UserLike, collection: Collection) -> None:
    """Delete the collection with its items, snapshots and history; owner only."""
    require_access(user, collection, Access.OWN)
    collection.delete()


# --- Items ---------------------------------------------------------------------------------------


def _clean_tags(tags: object) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, (list, tuple)) or not all(isinstance(tag, str) for tag in tags):
        raise InvalidInput("Tags must be a list of words")
    cleaned: list[str] = []
    for tag in tags:
        tag = " ".join(tag.split())
        if not tag or tag in cleaned:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(f"A tag is longer than {MAX_TAG_LENGTH} characters")
        cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags per item")
    return cleaned


@transaction.atomic
def item_add(*, user: UserLike, collection: Collection, record: str, note: str = "") -> CollectionItem:
    """Add a record (PMID, uid or guideline id) at the end; InvalidInput if unknown or already there."""
    require_access(user, collection, Access.EDIT)
    _require_active(collection)
    found = record_lookup(record) if isinstance(record, str) else None
    if found is None:
        raise UnknownRecord(f"No record with id “{str(record)[:100]}”")
    if collection.items.filter(record=found).exists():
        raise Conflict(f"{found.uid} is already in this collection")
    position = (collection.items.aggregate(top=Max("position"))["top"] or 0) + 1
    try:
        with transaction.atomic():
            item = CollectionItem.objects.create(
                collection=collection, record=found, position=position, note=note or "", added_by_id=user.pk
            )
    except IntegrityError:
        raise Conflict(f"{found.uid} is already in this collection") from None
    collection.save(update_fields=["updated_at"])
    audit(collection, user, "item_added", f"Added {found.uid}", record=found.uid, item=item.pk)
    return item


ITEM_FIELDS = ("note", "tags", "decision", "exclusion_reason", "certainty")


@transaction.atomic
def item_update(*, user: UserLike, item: CollectionItem, **fields: Any) -> CollectionItem:
    """Change note, tags, decision, exclusion_reason and/or certainty (None means unchanged)."""
    collection = item.collection
    require_access(user, collection, Access.EDIT)
    _require_active(collection)
    unknown = set(fields) - set(ITEM_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown item fields: {', '.join(sorted(unknown))}")
    values = {key: value for key, value in fields.items() if value is not None}
    if "tags" in values:
        values["tags"] = _clean_tags(values["tags"])
    if "decision" in values and values["decision"] not in Decision.values:
        raise InvalidInput(f"Decision must be one of {', '.join(Decision.values)}")
    if "certainty" in values and values["certainty"] not in [*Certainty.values, ""]:
        raise InvalidInput(f"Certainty must be one of {', '.join(Certainty.values)} (or empty)")
    for key in ("note", "exclusion_reason"):
        if key in values and not isinstance(values[key], str):
            raise InvalidInput(f"{key} must be text")
    decision = values.get("decision", item.decision)
    if decision != Decision.EXCLUDE:
        if values.get("exclusion_reason"):
            raise Conflict("A reason for exclusion only goes with the decision “exclude”")
        values["exclusion_reason"] = ""
    changes = {key: [getattr(item, key), value] for key, value in values.items() if getattr(item, key) != value}
    if not changes:
        return item
    for key, (_, value) in changes.items():
        setattr(item, key, value)
    item.save()
    collection.save(update_fields=["updated_at"])
    audit(
        collection,
        user,
        "item_updated",
        f"Changed {', '.join(sorted(changes))} of {item.record.uid}",
        record=item.record.uid,
        item=item.pk,
        changes=changes,
    )
    return item


@transaction.atomic
def item_move(*, user: UserLike, item: CollectionItem, direction: str) -> CollectionItem:
    """Swap the item with its neighbour ("up" or "down"); at an end it stays put."""
    collection = item.collection
    require_access(user, collection, Access.EDIT)
    _require_active(collection)
    if direction not in ("up", "down"):
        raise InvalidInput("Direction must be up or down")
    items = list(collection.items.order_by("position", "id"))
    index = next(i for i, candidate in enumerate(items) if candidate.pk == item.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
        _renumber(items)
        audit(collection, user, "item_moved", f"Moved {item.record.uid} {direction}", item=item.pk)
    item.refresh_from_db()
    return item


@transaction.atomic
def items_reorder(*, user: UserLike, collection: Collection, item_ids: list[int]) -> None:
    """Put items in the given order (drag and drop); must name every item exactly once."""
    require_access(user, collection, Access.EDIT)
    _require_active(collection)
    items = {item.pk: item for item in collection.items.all()}
    if sorted(item_ids) != sorted(items):
        raise InvalidInput("The new order must list every item of the collection once")
    _renumber([items[item_id] for item_id in item_ids])
    audit(collection, user, "items_reordered", "Reordered items")


def _renumber(items: list[CollectionItem]) -> None:
    for position, item in enumerate(items, start=1):
        if item.position != position:
            item.position = position
            item.save(update_fields=["position"])


@transaction.atomic
def item_remove(*, user: UserLike, item: CollectionItem) -> None:
    collection = item.collection
    require_access(user, collection, Access.EDIT)
    _require_active(collection)
    uid = item.record.uid
    item.delete()
    collection.save(update_fields=["updated_at"])
    audit(collection, user, "item_removed", f"Removed {uid}", record=uid)


# --- Sharing -------------------------------------------------------------------------------------


@transaction.atomic
def member_set(*, user: UserLike, collection: Collection, username: str, role: str) -> CollectionMember:
    """Share with a co-author by username (or email) as viewer or editor; owner only."""
    require_access(user, collection, Access.OWN)
    if role not in Role.values:
        raise InvalidInput("Role must be view or edit")
    user_model = get_user_model()
    username = (username or "").strip()
    target = (
        user_model.objects.filter(username=username).first()
        or user_model.objects.filter(email__iexact=username).exclude(email="").first()
    )
    if target is None or not username:
        raise InvalidInput(f"No user “{username[:100]}”")
    if target.pk == collection.owner_id:
        raise InvalidInput("The owner already has full access")
    member, _ = CollectionMember.objects.update_or_create(collection=collection, user=target, defaults={"role": role})
    audit(collection, user, "shared", f"Shared with {target.get_username()} ({role})", user=target.get_username())
    return member


@transaction.atomic
def member_remove(*, user: UserLike, collection: Collection, member_id: int) -> None:
    require_access(user, collection, Access.OWN)
    member = CollectionMember.objects.select_related("user").filter(collection=collection, pk=member_id).first()
    if member is None:
        raise InvalidInput("No such co-author")
    name = member.user.get_username()
    member.delete()
    audit(collection, user, "unshared", f"Stopped sharing with {name}", user=name)


@transaction.atomic
def share_link_create(*, user: UserLike, collection: Collection) -> str:
    """Create (or replace) the read-only link token: 32 random bytes, 256 bits. Owner only."""
    require_access(user, collection, Access.OWN)
    collection.share_token = secrets.token_urlsafe(32)
    collection.save(update_fields=["share_token", "updated_at"])
    audit(collection, user, "link_created", "Created a read-only link")
    return collection.share_token


@transaction.atomic
def share_link_revoke(*, user: UserLike, collection: Collection) -> None:
    require_access(user, collection, Access.OWN)
    if collection.share_token:
        collection.share_token = None
        collection.save(update_fields=["share_token", "updated_at"])
        audit(collection, user, "link_revoked", "Revoked the read-only link")


# --- Saved searches and alerts -------------------------------------------------------------------

FILTER_KEYS = {"evidence_levels", "year_from", "year_to", "publication_types", "languages", "free_full_text"}


@transaction.atomic
def saved_search_create(
    *,
    user: UserLike,
    collection: Collection,
    query: str,
    filters: dict[str, Any] | None = None,
    email_digest: bool = False,
) -> SavedSearch:
    """Watch a query for new evidence from now on; needs edit access."""
    require_access(user, collection, Access.EDIT)
    _require_active(collection)
    query = " ".join((query or "").split())
    if not query:
        raise InvalidInput("A saved search needs a query")
    if len(query) > 500:
        raise InvalidInput("The query is longer than 500 characters")
    filters = dict(filters or {})
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise InvalidInput(f"Unknown filters: {', '.join(sorted(unknown))}")
    saved = SavedSearch.objects.create(
        collection=collection,
        query=query,
        filters=filters,
        email_digest=email_digest,
        created_by_id=user.pk,
        last_checked_at=timezone.now(),
    )
    audit(collection, user, "search_saved", f"Saved search “{query}”", search=saved.pk)
    return saved


@transaction.atomic
def saved_search_delete(*, user: UserLike, collection: Collection, saved_search_id: int) -> None:
    require_access(user, collection, Access.EDIT)
    saved = SavedSearch.objects.filter(collection=collection, pk=saved_search_id).first()
    if saved is None:
        raise InvalidInput("No such saved search")
    query = saved.query
    saved.delete()
    audit(collection, user, "search_deleted", f"Deleted saved search “{query}”")


@transaction.atomic
def alert_dismiss(*, user: UserLike, collection: Collection, alert_id: int) -> None:
    require_access(user, collection, Access.EDIT)
    alert = NewEvidenceAlert.objects.filter(saved_search__collection=collection, pk=alert_id).first()
    if alert is None:
        raise InvalidInput("No such alert")
    if alert.dismissed_at is None:
        alert.dismissed_at = timezone.now()
        alert.save(update_fields=["dismissed_at"])
