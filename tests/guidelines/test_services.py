"""Storing guidelines: one row per guideline across sources, versions, recommendations as records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from guidelines.models import Guideline
from guidelines.services import GuidelineCounts, Outcome, guideline_delete, guideline_store, guideline_store_item
from ingest.guidelines.types import DeletedGuideline, ParsedGuideline, ParsedRecommendation
from records.models import EvidenceRecord

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)


def lung_cancer(**changes: object) -> ParsedGuideline:
    values: dict[str, object] = {
        "source": "uspstf",
        "source_id": "lung-cancer-screening",
        "title": "Screening for Lung Cancer",
        "issuer": "U.S. Preventive Services Task Force",
        "year": 2021,
        "url": "https://example.org/lung",
        "sections": ("Recommendations",),
        "recommendations": (
            ParsedRecommendation(
                number="1",
                text="Annual screening for lung cancer with low-dose computed tomography in adults aged 50 to 80.",
                section="Recommendations",
                strength="strong",
                direction="for",
                grade="B",
                strength_wording="B recommendation",
            ),
            ParsedRecommendation(number="2", text="Discontinue screening once a person has not smoked for 15 years."),
        ),
    }
    values.update(changes)
    return ParsedGuideline(**values)  # type: ignore[arg-type]


def live_records(guideline_id: int) -> list[EvidenceRecord]:
    return list(EvidenceRecord.objects.filter(guideline_id=guideline_id, deleted_at__isnull=True).order_by("source_id"))


def test_each_recommendation_becomes_a_record_of_its_guideline() -> None:
    result = guideline_store(parsed=lung_cancer(), harvested_at=WHEN)
    assert result.outcome == Outcome.NEW
    records = live_records(result.guideline_id)
    assert [r.kind for r in records] == ["recommendation", "recommendation"]
    assert sorted(result.changed_record_ids) == sorted(r.pk for r in records)
    first = records[0]
    assert first.uid == f"guideline:{result.guideline_id}-1"
    assert first.title == "Screening for Lung Cancer"
    assert first.issuing_body == "U.S. Preventive Services Task Force"
    assert first.publication_year == 2021
    assert first.recommendation["strength"] == "strong"
    assert first.recommendation["grade"] == "B"
    assert first.recommendation["anchor"] == "rec-1"
    assert first.recommendation_text.startswith("Annual screening")


def test_storing_the_same_document_again_changes_nothing() -> None:
    first = guideline_store(parsed=lung_cancer(), harvested_at=WHEN)
    again = guideline_store(parsed=lung_cancer(), harvested_at=LATER)
    assert again.outcome == Outcome.UNCHANGED
    assert again.changed_record_ids == []
    assert Guideline.objects.get(pk=first.guideline_id).last_harvested_at == LATER
    assert EvidenceRecord.objects.count() == 2


def test_one_guideline_seen_in_two_sources_is_one_guideline() -> None:
    first = guideline_store(parsed=lung_cancer(doi="10.1001/jama.2021.1117"), harvested_at=WHEN)
    pubmed_copy = lung_cancer(
        source="pubmed",
        source_id="33687470",
        title="Screening for lung cancer: US Preventive Services Task Force recommendation statement",
        doi="10.1001/JAMA.2021.1117",
        recommendations=(),
    )
    again = guideline_store(parsed=pubmed_copy, harvested_at=LATER)
    assert again.guideline_id == first.guideline_id
    assert again.outcome == Outcome.UNCHANGED
    assert Guideline.objects.count() == 1
    assert Guideline.objects.get().aliases == [["pubmed", "33687470"]]
    assert EvidenceRecord.objects.filter(deleted_at__isnull=True).count() == 2


def test_a_copy_matched_by_title_issuer_and_year_that_says_more_replaces_the_text() -> None:
    short = lung_cancer(source="feed", source_id="item-9", recommendations=lung_cancer().recommendations[:1])
    first = guideline_store(parsed=short, harvested_at=WHEN)
    fuller = lung_cancer(title="Final recommendation statement: screening for lung cancer")
    again = guideline_store(parsed=fuller, harvested_at=LATER)
    assert again.guideline_id == first.guideline_id
    assert again.outcome == Outcome.UPDATED
    assert len(live_records(first.guideline_id)) == 2


def test_a_newer_version_supersedes_the_old_one_which_stays_reachable() -> None:
    old = guideline_store(parsed=lung_cancer(year=2013), harvested_at=WHEN)
    new = guideline_store(parsed=lung_cancer(year=2021, version="2021"), harvested_at=LATER)
    assert new.outcome == Outcome.NEW_VERSION
    assert new.guideline_id != old.guideline_id
    old_row = Guideline.objects.get(pk=old.guideline_id)
    assert old_row.superseded_by_id == new.guideline_id
    old_records = live_records(old.guideline_id)
    assert len(old_records) == 2 and all(r.superseded for r in old_records)
    assert {r.pk for r in old_records} <= set(new.changed_record_ids)
    assert not any(r.superseded for r in live_records(new.guideline_id))
    # harvesting the new version again leaves both as they are
    assert (
        guideline_store(parsed=lung_cancer(year=2021, version="2021"), harvested_at=LATER).outcome == Outcome.UNCHANGED
    )


def test_an_older_version_read_later_is_stored_already_superseded() -> None:
    new = guideline_store(parsed=lung_cancer(year=2021), harvested_at=WHEN)
    old = guideline_store(parsed=lung_cancer(source="ngc", source_id="ngc-10192", year=2014), harvested_at=LATER)
    assert old.outcome == Outcome.OLDER_VERSION
    assert Guideline.objects.get(pk=old.guideline_id).superseded_by_id == new.guideline_id
    assert all(r.superseded for r in live_records(old.guideline_id))


def test_a_recommendation_dropped_from_the_document_is_tombstoned() -> None:
    first = guideline_store(parsed=lung_cancer(), harvested_at=WHEN)
    shorter = lung_cancer(recommendations=lung_cancer().recommendations[:1])
    again = guideline_store(parsed=shorter, harvested_at=LATER)
    assert again.outcome == Outcome.UPDATED
    assert len(live_records(first.guideline_id)) == 1
    gone = EvidenceRecord.objects.get(source_id=f"{first.guideline_id}-2")
    assert gone.deleted_at == LATER and gone.pk in again.changed_record_ids


def test_a_guideline_without_recommendations_is_one_searchable_record() -> None:
    listing = ParsedGuideline(
        source="nice",
        source_id="CG181",
        title="Cardiovascular disease: risk assessment",
        summary="NICE guideline CG181",
    )
    result = guideline_store(parsed=listing, harvested_at=WHEN)
    (record,) = live_records(result.guideline_id)
    assert record.kind == "guideline"
    assert record.abstract == "NICE guideline CG181"


def test_a_deleted_guideline_takes_its_records_out() -> None:
    first = guideline_store(parsed=lung_cancer(), harvested_at=WHEN)
    result = guideline_delete(deleted=DeletedGuideline("uspstf", "lung-cancer-screening"), deleted_at=LATER)
    assert result.outcome == Outcome.DELETED
    assert live_records(first.guideline_id) == []
    missing = guideline_delete(deleted=DeletedGuideline("uspstf", "never-seen"), deleted_at=LATER)
    assert missing.outcome == Outcome.NOT_FOUND


def test_counts_add_up_over_a_batch() -> None:
    counts = GuidelineCounts()
    for item in [lung_cancer(), lung_cancer(), DeletedGuideline("oai", "x")]:
        guideline_store_item(item=item, harvested_at=WHEN, counts=counts)
    assert (counts.read, counts.new, counts.unchanged, counts.deleted, counts.recommendations) == (3, 1, 1, 0, 4)


def test_title_keys_ignore_word_order_filler_and_the_issuers_name() -> None:
    from guidelines.services import match_title

    ngc = "Screening for lung cancer: U.S. Preventive Services Task Force recommendation statement."
    api = "Lung Cancer: Screening"
    issuer = "U.S. Preventive Services Task Force"
    assert match_title(ngc, issuer=issuer) == match_title(api, issuer=issuer) == "cancer lung screening"
    assert match_title("Screening for colorectal cancer", issuer=issuer) != match_title(api, issuer=issuer)


def test_without_a_year_a_same_titled_document_is_not_merged() -> None:
    dated = guideline_store(parsed=lung_cancer(source="ngc", source_id="ngc-1", year=2014), harvested_at=WHEN)
    undated = guideline_store(parsed=lung_cancer(source="uspstf", source_id="api-1", year=None), harvested_at=WHEN)
    assert undated.outcome == Outcome.NEW and undated.guideline_id != dated.guideline_id
