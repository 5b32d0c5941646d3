"""Guidelines for search tests: stored through guideline_store, graded and indexed for real."""

from __future__ import annotations

from datetime import UTC, datetime

from guidelines.models import Guideline
from guidelines.services import guideline_store
from ingest.guidelines.types import ParsedGuideline, ParsedRecommendation
from records.evidence.services import records_grade
from search.indexing import embed_pending, records_index

WHEN = datetime(2026, 3, 1, tzinfo=UTC)
STATIN_TITLE = "Statin use for the primary prevention of cardiovascular disease in adults: preventive medication"
USPSTF = "U.S. Preventive Services Task Force"


def statin_guideline(*, year: int = 2022, version: str = "2022") -> ParsedGuideline:
    return ParsedGuideline(
        source="uspstf",
        source_id="statin-primary-prevention",
        title=STATIN_TITLE,
        issuer=USPSTF,
        year=year,
        version=version,
        url="https://example.org/uspstf/statins",
        sections=("Adults aged 40 to 75 years",),
        recommendations=(
            ParsedRecommendation(
                number="1",
                text=(
                    "The USPSTF recommends that clinicians prescribe a statin for the primary prevention of "
                    "cardiovascular disease for adults aged 40 to 75 years who have 1 or more cardiovascular "
                    "risk factors and an estimated 10-year cardiovascular risk of 10% or greater."
                ),
                section="Adults aged 40 to 75 years",
                strength="strong",
                direction="for",
                grade="B",
                strength_wording="B recommendation",
            ),
            ParsedRecommendation(
                number="2",
                text=(
                    "The USPSTF recommends that clinicians selectively offer a statin for the primary prevention "
                    "of cardiovascular disease to adults aged 40 to 75 years with a risk of 7.5% to less than 10%."
                ),
                section="Adults aged 40 to 75 years",
                strength="conditional",
                direction="for",
                grade="C",
                strength_wording="C recommendation",
            ),
            ParsedRecommendation(
                number="3",
                text=(
                    "The current evidence is insufficient to assess the balance of benefits and harms of initiating "
                    "a statin for the primary prevention of cardiovascular events and mortality in adults 76 years "
                    "or older."
                ),
                section="Adults 76 years or older",
                strength="insufficient",
                grade="I",
                strength_wording="I statement",
            ),
        ),
    )


def lung_guideline() -> ParsedGuideline:
    return ParsedGuideline(
        source="va-dod",
        source_id="lung-screening",
        title="Screening for lung cancer",
        issuer="Department of Veterans Affairs",
        year=2021,
        recommendations=(
            ParsedRecommendation(
                number="1",
                text="We suggest annual low-dose computed tomography screening for lung cancer in heavy smokers.",
                strength="conditional",
                direction="for",
                certainty="low",
                grade="Weak for",
                strength_wording="Weak for",
            ),
        ),
    )


def store_and_index(parsed: ParsedGuideline, *, vectors: bool = True) -> Guideline:
    """Store a guideline, then grade and index its changed records as the hand-off would."""
    result = guideline_store(parsed=parsed, harvested_at=WHEN)
    ids = result.changed_record_ids
    records_grade(record_ids=ids)
    records_index(record_ids=ids)
    if vectors:
        embed_pending(limit=len(ids) + 10)
    assert result.guideline_id is not None
    return Guideline.objects.get(pk=result.guideline_id)
