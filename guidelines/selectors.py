"""Reads for guideline pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from guidelines.models import Guideline
from guidelines.presenters import GuidelineStatus, RecommendationView, guideline_status, recommendation_view
from records.models import EvidenceRecord, RecordKind


@dataclass
class SectionView:
    title: str
    recommendations: list[RecommendationView] = field(default_factory=list)


@dataclass
class GuidelinePage:
    guideline: Guideline
    status: GuidelineStatus
    sections: list[SectionView]
    recommendation_count: int
    newest: Guideline | None  # the current version, when this one is superseded
    older_versions: list[Guideline]
    summary_record: EvidenceRecord | None


def guideline_page(*, guideline_id: int) -> GuidelinePage | None:
    """Return a guideline with its live recommendations in document order, grouped by section.

    None when there is no such guideline or it was deleted at its source.
    """
    guideline = (
        Guideline.objects.filter(pk=guideline_id, deleted_at__isnull=True).select_related("superseded_by").first()
    )
    if guideline is None:
        return None
    records = list(
        EvidenceRecord.objects.filter(guideline=guideline, deleted_at__isnull=True).select_related("guideline")
    )
    recommendations = sorted(
        (r for r in records if r.kind == RecordKind.RECOMMENDATION),
        key=lambda r: int((r.recommendation or {}).get("position", 0)),
    )
    sections: list[SectionView] = []
    for record in recommendations:
        view = recommendation_view(record)
        if view is None:
            continue
        if not sections or sections[-1].title != view.section:
            sections.append(SectionView(view.section))
        sections[-1].recommendations.append(view)
    newest = guideline.superseded_by
    while newest is not None and newest.superseded_by_id is not None:
        newest = newest.superseded_by
    summary = next((r for r in records if r.kind == RecordKind.GUIDELINE), None)
    return GuidelinePage(
        guideline=guideline,
        status=guideline_status(guideline),
        sections=sections,
        recommendation_count=len(recommendations),
        newest=newest,
        older_versions=list(Guideline.objects.filter(superseded_by=guideline).order_by("-year")),
        summary_record=summary,
    )
