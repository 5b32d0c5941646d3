"""The evidence record: one citable item (a PubMed article or a guideline) per source id."""

from __future__ import annotations

from django.db import models


class RecordKind(models.TextChoices):
    ARTICLE = "article", "Article"
    GUIDELINE = "guideline", "Guideline"
    # One recommendation of a guideline (guidelines.Guideline): the unit a search lands on.
    RECOMMENDATION = "recommendation", "Recommendation"


class EvidenceRecord(models.Model):
    kind = models.CharField(max_length=16, choices=RecordKind.choices, default=RecordKind.ARTICLE)
    source = models.CharField(max_length=32)
    source_id = models.CharField(max_length=64)
    # "source:source_id"; the stable id search backends index the record under.
    uid = models.CharField(max_length=100, unique=True, editable=False)
    pmid = models.CharField(max_length=16, blank=True, db_index=True)

    title = models.TextField()
    abstract = models.TextField(blank=True)
    # [{"label": ..., "category": ..., "text": ...}, ...] as PubMed structures it.
    abstract_sections = models.JSONField(default=list, blank=True)
    journal = models.CharField(max_length=512, blank=True)
    journal_abbreviation = models.CharField(max_length=255, blank=True)
    publication_date = models.DateField(null=True, blank=True)
    publication_date_raw = models.CharField(max_length=100, blank=True)
    publication_year = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    authors = models.JSONField(default=list, blank=True)
    doi = models.CharField(max_length=255, blank=True)
    pmcid = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=16, blank=True)
    languages = models.JSONField(default=list, blank=True)
    publication_types = models.JSONField(default=list, blank=True)
    # [{"descriptor": ..., "major": bool, "qualifiers": [[name, major], ...]}, ...]
    mesh_headings = models.JSONField(default=list, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    publication_status = models.CharField(max_length=32, blank=True)
    url = models.URLField(max_length=500, blank=True)

    # Guidelines
    issuing_body = models.CharField(max_length=255, blank=True)
    recommendation_text = models.TextField(blank=True)
    guideline = models.ForeignKey(
        "guidelines.Guideline", null=True, blank=True, on_delete=models.SET_NULL, related_name="recommendations"
    )
    # {"number", "section", "strength", "certainty", "direction", "grade", "strength_wording",
    #  "population", "anchor", "position"}: see ingest.guidelines.types.ParsedRecommendation.
    recommendation = models.JSONField(default=dict, blank=True)
    # A newer version of its guideline replaced it: reachable, but out of search results.
    superseded = models.BooleanField(default=False)

    # Evidence grade (filled by records.grading); null until graded.
    # Null means "not graded yet", which differs from a graded "unknown".
    evidence_level = models.CharField(max_length=32, null=True, blank=True, db_index=True)  # noqa: DJ001
    evidence_explanation = models.JSONField(default=dict, blank=True)
    evidence_predicted = models.BooleanField(default=False)
    evidence_model_version = models.CharField(max_length=64, blank=True)
    evidence_probability = models.FloatField(null=True, blank=True)
    # The classifier's calibrated probability of every rung ({} for grades from the indexing).
    evidence_probabilities = models.JSONField(default=dict, blank=True)
    # What the "best evidence" boost reads: level_strength of an indexed grade, the expected
    # strength over the rung probabilities of a predicted one (null until graded).
    evidence_strength = models.FloatField(null=True, blank=True)

    # Corrections
    retracted = models.BooleanField(default=False, db_index=True)
    retraction_notice = models.BooleanField(default=False)
    has_erratum = models.BooleanField(default=False)
    comments_corrections = models.JSONField(default=list, blank=True)

    # Bookkeeping
    content_hash = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    source_version = models.PositiveIntegerField(default=1)
    deleted_at = models.DateTimeField(null=True, blank=True)
    first_harvested_at = models.DateTimeField()
    last_harvested_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "source_id"], name="unique_record_per_source_id")]
        indexes = [
            models.Index(fields=["kind", "evidence_level"]),
            # Tombstones only: a full index on a column that is NULL for nearly every row led
            # SQLite to scan it for "uid IN (...) AND deleted_at IS NULL" (100 ms at 100k rows,
            # 3 ms through the uid index).
            models.Index(fields=["deleted_at"], name="record_tombstones", condition=models.Q(deleted_at__isnull=False)),
            # Covers what search ranking reads of each candidate, so ~400 lookups per search
            # never touch the wide rows (search.services._rank_meta: 20 -> 6 ms at 100k, loaded machine).
            models.Index(
                fields=["uid", "evidence_level", "publication_year", "retracted", "deleted_at", "evidence_strength"],
                name="record_rank_meta",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.uid}: {self.title[:60]}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.uid = f"{self.source}:{self.source_id}"
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_searchable(self) -> bool:
        """Whether the record belongs in the search index (not deleted, not superseded)."""
        return self.deleted_at is None and not self.superseded

    @property
    def pubmed_url(self) -> str:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/" if self.pmid else ""

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""

    @property
    def pmc_url(self) -> str:
        return f"https://www.ncbi.nlm.nih.gov/pmc/articles/{self.pmcid}/" if self.pmcid else ""

    @property
    def free_full_text(self) -> bool:
        return bool(self.pmcid)


class DesignPredictionCheck(models.Model):
    """A predicted design checked against PubMed's indexing when the record was later indexed.

    One row per record (its first indexing after a prediction): what the classifier said, what
    the rules then said. ``manage.py train_design_classifier --report`` counts them by rung.
    """

    record = models.OneToOneField(EvidenceRecord, on_delete=models.CASCADE, related_name="design_check")
    predicted_level = models.CharField(max_length=32)  # "unknown" when the classifier abstained
    best_level = models.CharField(max_length=32)  # the most likely rung, even below the threshold
    probability = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=64)
    indexed_level = models.CharField(max_length=32)
    checked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.record_id}: predicted {self.predicted_level}, indexed {self.indexed_level}"
