"""Users in the three roles the permission tests cross, and a few records to curate."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from curation.models import AUTHORS_GROUP, Collection, Role
from curation.services import collection_create, member_set
from records.models import EvidenceRecord
from tests.factories import EvidenceRecordFactory


def make_user(username: str, *, author: bool = True) -> User:
    user = User.objects.create_user(username=username, email=f"{username}@example.org", password="pw-" + username)
    if author:
        user.groups.add(Group.objects.get_or_create(name=AUTHORS_GROUP)[0])
    return user


@pytest.fixture
def owner(db: None) -> User:
    return make_user("olivia")


@pytest.fixture
def coauthor(db: None) -> User:
    return make_user("carlos")


@pytest.fixture
def viewer(db: None) -> User:
    return make_user("vera")


@pytest.fixture
def outsider(db: None) -> User:
    return make_user("oscar")


@pytest.fixture
def records(db: None) -> list[EvidenceRecord]:
    return [
        EvidenceRecordFactory(evidence_level="rct", publication_types=["Randomized Controlled Trial"]),
        EvidenceRecordFactory(evidence_level="systematic_review", publication_types=["Systematic Review"]),
        EvidenceRecordFactory(evidence_level="cohort"),
        EvidenceRecordFactory(guideline=True, source_id="hypertension-2021", evidence_level="guideline"),
    ]


@pytest.fixture
def collection(owner: User, coauthor: User, viewer: User) -> Collection:
    """A collection of the owner's, shared with an editing co-author and a viewing one."""
    collection = collection_create(user=owner, name="Hypertension in adults", description="Evidence for rec. 1")
    member_set(user=owner, collection=collection, username=coauthor.username, role=Role.EDIT)
    member_set(user=owner, collection=collection, username=viewer.username, role=Role.VIEW)
    return collection
