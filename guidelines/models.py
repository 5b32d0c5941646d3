"""A guideline document (one version of it) and the sources guidelines are harvested from."""

from __future__ import annotations

from django.db import models


class Guideline(models.Model):
    """One version of a guideline as harvested or uploaded.

    The same guideline seen in two sources is one row (matched by DOI, else by normalised title,
    issuer and year); a newer version is a new row and the old one points at it through
    ``superseded_by``, keeping its recommendations reachable.
    """

    source = models.CharField(max_length=32)
    source_id = models.CharField(max_length=255)
    # Other (source, source_id) pairs that turned out to be this same guideline: [[s, id], ...].
    aliases = models.JSONField(default=list, blank=True)
    title = models.TextField()
    match_title = models.CharField(max_length=255, db_index=True, editable=False)
    issuer = models.CharField(max_length=255, blank=True)
    match_issuer = models.CharField(max_length=255, blank=True, editable=False)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    published = models.DateField(null=True, blank=True)
    url = models.URLField(max_length=500, blank=True)
    doi = models.CharField(max_length=255, blank=True, db_index=True)
    version = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=16, blank=True)
    summary = models.TextField(blank=True)
    sections = models.JSONField(default=list, blank=True)
    rating_scheme = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    first_harvested_at = models.DateTimeField()
    last_harvested_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "source_id"], name="unique_guideline_per_source_id")]
        indexes = [models.Index(fields=["match_title", "match_issuer", "year"], name="guideline_match")]

    def __str__(self) -> str:
        return f"{self.title[:60]} ({self.issuer or 'no issuer'}, {self.year or 'n.d.'})"

    @property
    def is_superseded(self) -> bool:
        return self.superseded_by_id is not None


class SourceProtocol(models.TextChoices):
    OAI = "oai", "OAI-PMH"
    FEED = "feed", "RSS / Atom feed"
    USPSTF = "uspstf", "USPSTF Prevention TaskForce API"


class GuidelineSource(models.Model):
    """A configured publisher harvested again and again (``harvest_guidelines --source NAME``)."""

    name = models.CharField(max_length=100, unique=True)
    protocol = models.CharField(max_length=16, choices=SourceProtocol.choices)
    url = models.URLField(max_length=500)
    set_spec = models.CharField(max_length=255, blank=True, help_text="OAI-PMH set (optional)")
    metadata_prefix = models.CharField(max_length=32, default="oai_dc", blank=True)
    issuer = models.CharField(max_length=255, blank=True, help_text="Issuing body of what this source publishes")
    # Harvest every this many hours (0: only by hand).
    interval_hours = models.PositiveIntegerField(default=24)
    enabled = models.BooleanField(default=True)
    # The last day a successful incremental run covered (OAI-PMH ``from`` of the next run).
    checkpoint = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.get_protocol_display()})"
