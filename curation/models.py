"""Collections of evidence that guideline authors curate, share, freeze and watch."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from records.models import EvidenceRecord

AUTHORS_GROUP = "guideline authors"


class Decision(models.TextChoices):
    UNDECIDED = "undecided", _("Undecided")
    INCLUDE = "include", _("Include")
    EXCLUDE = "exclude", _("Exclude")


class Certainty(models.TextChoices):
    HIGH = "high", _("High")
    MODERATE = "moderate", _("Moderate")
    LOW = "low", _("Low")
    VERY_LOW = "very_low", _("Very low")


class Role(models.TextChoices):
    VIEW = "view", _("Can view")
    EDIT = "edit", _("Can edit")


class Collection(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # A read-only link: secrets.token_urlsafe(32) (256 bits); null when no link exists.
    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class CollectionMember(models.Model):
    """A co-author the owner shared the collection with."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shared_collections")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.VIEW)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collection", "user"], name="one_membership_per_user")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) on {self.collection_id}"


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    record = models.ForeignKey(EvidenceRecord, on_delete=models.PROTECT, related_name="collection_items")
    position = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.UNDECIDED)
    exclusion_reason = models.TextField(blank=True)
    certainty = models.CharField(max_length=16, choices=Certainty.choices, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["collection", "record"], name="record_once_per_collection")]

    def __str__(self) -> str:
        return f"{self.record.uid} in {self.collection_id}"


class ImmutableError(Exception):
    """A snapshot (or one of its items) was about to be changed or deleted."""


class ImmutableModel(models.Model):
    """Rows that can be created once and never updated or deleted one by one."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ImmutableError(f"{type(self).__name__} {self.pk} is immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableError(f"{type(self).__name__} {self.pk} is immutable")


class Snapshot(ImmutableModel):
    """A frozen version of a collection, citable by its number and content hash."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="snapshots")
    number = models.PositiveIntegerField()
    label = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=200)  # the collection name as it was
    description = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64)
    item_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["collection", "number"], name="snapshot_number_per_collection")]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}"


class SnapshotItem(ImmutableModel):
    """One item as it was when frozen: the record's citation fields are copied, not referenced."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    # Kept for "retracted/revised since this snapshot"; the copy below is what the snapshot says.
    record = models.ForeignKey(EvidenceRecord, on_delete=models.SET_NULL, null=True, related_name="+")
    record_uid = models.CharField(max_length=100)
    pmid = models.CharField(max_length=16, blank=True)
    record_version = models.PositiveIntegerField()
    record_content_hash = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=16)
    title = models.TextField()
    authors = models.JSONField(default=list)
    journal = models.CharField(max_length=512, blank=True)
    publication_year = models.PositiveSmallIntegerField(null=True)
    publication_date_raw = models.CharField(max_length=100, blank=True)
    doi = models.CharField(max_length=255, blank=True)
    url = models.CharField(max_length=500, blank=True)
    issuing_body = models.CharField(max_length=255, blank=True)
    publication_types = models.JSONField(default=list)
    evidence_level = models.CharField(max_length=32, blank=True)
    retracted = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    tags = models.JSONField(default=list)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    exclusion_reason = models.TextField(blank=True)
    certainty = models.CharField(max_length=16, choices=Certainty.choices, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.record_uid} in snapshot {self.snapshot_id}"


class AuditEvent(models.Model):
    """Who changed what in a collection, and when."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=40)
    summary = models.CharField(max_length=500)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action}: {self.summary}"


class SavedSearch(models.Model):
    """A query watched for new evidence on behalf of a collection."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="saved_searches")
    query = models.CharField(max_length=500)
    filters = models.JSONField(default=dict, blank=True)
    email_digest = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Records first harvested after this are "new"; moved forward by each check.
    last_checked_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.query


class NewEvidenceAlert(models.Model):
    """A record that newly matches a saved search; unique, so a re-run adds nothing twice."""

    saved_search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="alerts")
    record = models.ForeignKey(EvidenceRecord, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["saved_search", "record"], name="alert_once_per_record")]

    def __str__(self) -> str:
        return f"{self.record_id} for search {self.saved_search_id}"


class ApiToken(models.Model):
    """A personal API token; only its SHA-256 is stored, the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Invitation(models.Model):
    """Sign-up by invitation: the token is mailed, only its hash is kept."""

    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    as_author = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return self.email
