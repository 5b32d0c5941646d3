"""Collection endpoints of the JSON API (mounted at /api/v1/collections).

Authentication: a signed-in session (with the CSRF token on writes) or a personal API token as
``Authorization: Bearer <token>``. A collection the caller may not view is a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.security import HttpBearer, django_auth

from curation import exports, selectors, services, snapshots
from curation.accounts import api_token_user
from curation.models import Collection, CollectionItem, Snapshot
from curation.permissions import (
    Access,
    CollectionNotFound,
    Conflict,
    InvalidInput,
    NotAllowed,
    UnknownRecord,
    access_level,
)


class TokenAuth(HttpBearer):
    """A personal API token (create one on the account page)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return api_token_user(token)


router = Router(tags=["collections"], auth=[TokenAuth(), django_auth])


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except CollectionNotFound:
        raise HttpError(404, "Not found") from None
    except NotAllowed as error:
        raise HttpError(403, str(error)) from None
    except UnknownRecord as error:
        raise HttpError(404, str(error)) from None
    except Conflict as error:
        raise HttpError(409, str(error)) from None
    except InvalidInput as error:
        raise HttpError(400, str(error)) from None


class Error(Schema):
    detail: str


# At least one character that is not whitespace (str.split() also splits on \x1c-\x1f).
NAME_PATTERN = r"[^\s\x1c-\x1f]"


class CollectionIn(Schema):
    name: str = Field(..., min_length=1, max_length=200, pattern=NAME_PATTERN)
    description: str = ""


class CollectionPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200, pattern=NAME_PATTERN)
    description: str | None = None
    archived: bool | None = None


class Counts(Schema):
    key: str
    label: str
    count: int


class CollectionOut(Schema):
    id: int
    name: str
    description: str
    owner: str
    access: Literal["own", "edit", "view"]
    archived: bool
    item_count: int
    by_level: list[Counts]
    by_decision: list[Counts]
    created_at: datetime
    updated_at: datetime


class ItemIn(Schema):
    record: str = Field(..., max_length=120, description="A PMID, a guideline id or a record uid")
    note: str = ""


class ItemPatch(Schema):
    note: str | None = None
    tags: list[Annotated[str, Field(max_length=50)]] | None = Field(None, max_length=20, description="At most 20 tags")
    decision: Literal["undecided", "include", "exclude"] | None = None
    exclusion_reason: str | None = None
    certainty: Literal["high", "moderate", "low", "very_low", ""] | None = None
    move: Literal["up", "down"] | None = None


class ItemOut(Schema):
    id: int
    position: int
    record: str
    pmid: str
    title: str
    evidence_level: str
    retracted: bool
    note: str
    tags: list[str]
    decision: str
    exclusion_reason: str
    certainty: str
    added_at: datetime


class SnapshotIn(Schema):
    label: str = Field("", max_length=200)


class SnapshotItemOut(Schema):
    position: int
    record: str
    pmid: str
    record_version: int
    title: str
    evidence_level: str
    retracted: bool
    note: str
    tags: list[str]
    decision: str
    exclusion_reason: str
    certainty: str
    flags: list[str]


class SnapshotOut(Schema):
    id: int
    collection_id: int
    number: int
    label: str
    name: str
    description: str
    content_hash: str
    item_count: int
    created_at: datetime
    items: list[SnapshotItemOut]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _collection_out(user: Any, collection: Collection) -> dict[str, Any]:
    summary = selectors.collection_summary(collection)
    return {
        "id": collection.pk,
        "name": collection.name,
        "description": collection.description,
        "owner": collection.owner.get_username(),
        "access": access_level(user, collection).name.lower(),
        "archived": collection.is_archived,
        "item_count": summary.total,
        "by_level": [{"key": key, "label": label, "count": count} for key, label, count in summary.by_level],
        "by_decision": [{"key": key, "label": label, "count": count} for key, label, count in summary.by_decision],
        "created_at": collection.created_at,
        "updated_at": collection.updated_at,
    }


def _item_out(item: CollectionItem) -> dict[str, Any]:
    record = item.record
    return {
        "id": item.pk,
        "position": item.position,
        "record": record.uid,
        "pmid": record.pmid,
        "title": record.title,
        "evidence_level": record.evidence_level or "",
        "retracted": record.retracted,
        "note": item.note,
        "tags": list(item.tags or []),
        "decision": item.decision,
        "exclusion_reason": item.exclusion_reason,
        "certainty": item.certainty,
        "added_at": item.added_at,
    }


def _snapshot_out(snapshot: Snapshot) -> dict[str, Any]:
    items = []
    for status in snapshots.snapshot_item_statuses(snapshot):
        frozen = status.item
        items.append(
            {
                **{key: getattr(frozen, key) for key in SnapshotItemOut.model_fields if hasattr(frozen, key)},
                "record": frozen.record_uid,
                "flags": status.flags,
            }
        )
    return {
        "id": snapshot.pk,
        "collection_id": snapshot.collection_id,
        "number": snapshot.number,
        "label": snapshot.label,
        "name": snapshot.name,
        "description": snapshot.description,
        "content_hash": snapshot.content_hash,
        "item_count": snapshot.item_count,
        "created_at": snapshot.created_at,
        "items": items,
    }


@router.get("", response=list[CollectionOut], summary="Collections you own or co-author")
def list_collections(request: HttpRequest) -> list[dict[str, Any]]:
    user = _user(request)
    return [_collection_out(user, collection) for collection in selectors.collections_visible_to(user)]


@router.post("", response={201: CollectionOut, 400: Error, 403: Error}, summary="Create a collection")
def create_collection(request: HttpRequest, payload: CollectionIn) -> Status[dict[str, Any]]:
    user = _user(request)
    with _errors():
        collection = services.collection_create(user=user, name=payload.name, description=payload.description)
    return Status(201, _collection_out(user, collection))


@router.get("/{collection_id}", response={200: CollectionOut, 404: Error})
def get_collection(request: HttpRequest, collection_id: int) -> dict[str, Any]:
    user = _user(request)
    with _errors():
        collection = selectors.collection_get(user=user, collection_id=collection_id)
    return _collection_out(user, collection)


@router.patch("/{collection_id}", response={200: CollectionOut, 400: Error, 403: Error, 404: Error})
def update_collection(request: HttpRequest, collection_id: int, payload: CollectionPatch) -> dict[str, Any]:
    """Rename, describe, archive (``"archived": true``, owner only) or unarchive."""
    user = _user(request)
    with _errors():
        collection = selectors.collection_get(user=user, collection_id=collection_id, needed=Access.EDIT)
        if payload.archived is False:
            services.collection_set_archived(user=user, collection=collection, archived=False)
        if payload.name is not None or payload.description is not None:
            services.collection_update(
                user=user, collection=collection, name=payload.name, description=payload.description
            )
        if payload.archived is True:
            services.collection_set_archived(user=user, collection=collection, archived=True)
    return _collection_out(user, collection)


@router.delete("/{collection_id}", response={204: None, 403: Error, 404: Error})
def delete_collection(request: HttpRequest, collection_id: int) -> Status[None]:
    """Delete the collection with its items and snapshots (owner only)."""
    user = _user(request)
    with _errors():
        collection = selectors.collection_get(user=user, collection_id=collection_id)
        services.collection_delete(user=user, collection=collection)
    return Status(204, None)


@router.get("/{collection_id}/items", response={200: list[ItemOut], 404: Error})
def list_items(request: HttpRequest, collection_id: int) -> list[dict[str, Any]]:
    with _errors():
        collection = selectors.collection_get(user=_user(request), collection_id=collection_id)
    return [_item_out(item) for item in selectors.collection_items(collection)]


@router.post("/{collection_id}/items", response={201: ItemOut, 400: Error, 403: Error, 404: Error, 409: Error})
def add_item(request: HttpRequest, collection_id: int, payload: ItemIn) -> Status[dict[str, Any]]:
    """Add a record by PMID, guideline id or uid, with an optional note."""
    user = _user(request)
    with _errors():
        collection = selectors.collection_get(user=user, collection_id=collection_id)
        item = services.item_add(user=user, collection=collection, record=payload.record, note=payload.note)
    return Status(201, _item_out(item))


@router.patch(
    "/{collection_id}/items/{item_id}", response={200: ItemOut, 400: Error, 403: Error, 404: Error, 409: Error}
)
def update_item(request: HttpRequest, collection_id: int, item_id: int, payload: ItemPatch) -> dict[str, Any]:
    """Change note, tags, decision (with a reason when excluding) or certainty; ``move`` up or down."""
    user = _user(request)
    fields = payload.dict(exclude_unset=True)
    move = fields.pop("move", None)
    with _errors():
        collection = selectors.collection_get(user=user, collection_id=collection_id)
        item = selectors.item_get(collection, item_id)
        if fields:
            item = services.item_update(user=user, item=item, **fields)
        if move:
            item = services.item_move(user=user, item=item, direction=move)
    return _item_out(item)


@router.delete("/{collection_id}/items/{item_id}", response={204: None, 403: Error, 404: Error})
def remove_item(request: HttpRequest, collection_id: int, item_id: int) -> Status[None]:
    user = _user(request)
    with _errors():
        collection = selectors.collection_get(user=user, collection_id=collection_id)
        services.item_remove(user=user, item=selectors.item_get(collection, item_id))
    return Status(204, None)


@router.post("/{collection_id}/snapshots", response={201: SnapshotOut, 400: Error, 403: Error, 404: Error})
def create_snapshot(request: HttpRequest, collection_id: int, payload: SnapshotIn) -> Status[dict[str, Any]]:
    """Freeze the collection into an immutable snapshot with a content hash."""
    user = _user(request)
    with _errors():
        collection = selectors.collection_get(user=user, collection_id=collection_id)
        snapshot = snapshots.snapshot_create(user=user, collection=collection, label=payload.label)
    return Status(201, _snapshot_out(snapshot))


@router.get("/{collection_id}/snapshots/{snapshot_id}", response={200: SnapshotOut, 404: Error})
def get_snapshot(request: HttpRequest, collection_id: int, snapshot_id: int) -> dict[str, Any]:
    """The snapshot exactly as frozen; ``flags`` say what changed since (e.g. retracted)."""
    with _errors():
        collection = selectors.collection_get(user=_user(request), collection_id=collection_id)
        snapshot = selectors.snapshot_get(collection, snapshot_id)
    return _snapshot_out(snapshot)


class ExportQuery(Schema):
    format: Literal["ris", "bibtex", "csv", "json", "table-csv"] = "json"


@router.get(
    "/{collection_id}/export",
    response={200: None, 404: Error},
    summary="Export as RIS, BibTeX, CSV, JSON or the evidence table (table-csv)",
)
def export_collection(request: HttpRequest, collection_id: int, query: Query[ExportQuery]) -> HttpResponse:
    with _errors():
        collection = selectors.collection_get(user=_user(request), collection_id=collection_id)
    fmt = query.format
    body = exports.render(fmt, exports.collection_rows(collection), header=exports.collection_header(collection))
    response = HttpResponse(body, content_type=exports.MEDIA_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(collection.name, fmt)}"'
    return response
