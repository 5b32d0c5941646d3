"""Who may do what with a collection.

Access levels, weakest first: view < edit < own. A user who may not even view a collection is
told it does not exist (``CollectionNotFound``, a 404), so private collections do not leak.
"""

from __future__ import annotations

import enum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from curation.models import AUTHORS_GROUP, Collection, CollectionMember, Role


class Access(enum.IntEnum):
    NONE = 0
    VIEW = 1
    EDIT = 2
    OWN = 3


class CollectionNotFound(Exception):
    """No such collection, or one the user may not see (shown as a 404)."""


class NotAllowed(Exception):
    """The user can see the collection but may not make this change (shown as a 403)."""


class InvalidInput(ValueError):
    """Input a service cannot accept; the message is safe to show (shown as a 400)."""


class UnknownRecord(InvalidInput):
    """The record to add does not exist (or was withdrawn); the API answers 404."""


class Conflict(InvalidInput):
    """Well-formed input that conflicts with the current state (a duplicate, a reason for
    exclusion without the decision "exclude"); the API answers 409."""


UserLike = AbstractBaseUser | AnonymousUser


def is_author(user: UserLike) -> bool:
    """Return True when the user may own collections: guideline authors and staff."""
    if not user.is_authenticated:
        return False
    if getattr(user, "is_staff", False):
        return True
    return user.groups.filter(name=AUTHORS_GROUP).exists()  # type: ignore[union-attr,attr-defined]


def access_level(user: UserLike, collection: Collection) -> Access:
    """Return how much the user may do with the collection."""
    if not user.is_authenticated:
        return Access.NONE
    if collection.owner_id == user.pk:
        return Access.OWN
    role = (
        CollectionMember.objects.filter(collection=collection, user_id=user.pk).values_list("role", flat=True).first()
    )
    if role == Role.EDIT:
        return Access.EDIT
    if role == Role.VIEW:
        return Access.VIEW
    return Access.NONE


def require_access(user: UserLike, collection: Collection, needed: Access) -> Access:
    """Return the user's access, or raise CollectionNotFound (cannot view) / NotAllowed (too weak)."""
    level = access_level(user, collection)
    if level < Access.VIEW:
        raise CollectionNotFound(collection.pk)
    if level < needed:
        raise NotAllowed(f"You need {needed.name.lower()} access to this collection")
    return level
