"""Pure shaping of guidelines and recommendations for pages and the JSON API (no queries here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext

from records.evidence.levels import N_

if TYPE_CHECKING:
    from guidelines.models import Guideline
    from records.models import EvidenceRecord

STRENGTH_LABELS = {
    "strong": N_("Strong"),
    "conditional": N_("Conditional"),
    "insufficient": N_("Insufficient evidence"),
    "expert_opinion": N_("Expert opinion"),
}
CERTAINTY_LABELS = {"high": N_("High"), "moderate": N_("Moderate"), "low": N_("Low"), "very_low": N_("Very low")}
DIRECTION_LABELS = {"for": N_("For"), "against": N_("Against")}


def label(labels: dict[str, str], value: str) -> str:
    """Return the label of a vocabulary value in the active language ("" for none)."""
    return gettext(labels[value]) if value in labels else ""


def guideline_path(guideline: Guideline, *, anchor: str = "") -> str:
    """Return the portal page of a guideline, at a recommendation's anchor when given."""
    return f"/guidelines/{guideline.pk}/" + (f"#{anchor}" if anchor else "")


def is_outdated(year: int | None, *, today: date | None = None) -> bool:
    """Whether a guideline of ``year`` is older than ``GUIDELINE_STALE_YEARS``."""
    if not year:
        return False
    current = (today or date.today()).year
    return current - year > int(getattr(settings, "GUIDELINE_STALE_YEARS", 5))


@dataclass(frozen=True)
class GuidelineStatus:
    """What a card or page says about a guideline's age and versions."""

    outdated: bool
    superseded: bool
    stale_years: int

    @property
    def warning(self) -> str:
        if self.superseded:
            return gettext("Superseded by a newer version of this guideline.")
        if self.outdated:
            return gettext("Published more than %(years)d years ago: check for a newer version.") % {
                "years": self.stale_years
            }
        return ""


def guideline_status(guideline: Guideline) -> GuidelineStatus:
    return GuidelineStatus(
        outdated=is_outdated(guideline.year),
        superseded=guideline.superseded_by_id is not None,
        stale_years=int(getattr(settings, "GUIDELINE_STALE_YEARS", 5)),
    )


def guideline_payload(guideline: Guideline) -> dict[str, Any]:
    """Return the guideline's metadata as the API shows it."""
    status = guideline_status(guideline)
    return {
        "id": guideline.pk,
        "title": guideline.title,
        "issuer": guideline.issuer,
        "year": guideline.year,
        "url": guideline.url or None,
        "version": guideline.version,
        "page": guideline_path(guideline),
        "superseded": status.superseded,
        "outdated": status.outdated,
    }


def recommendation_payload(record: EvidenceRecord) -> dict[str, Any] | None:
    """Return a recommendation record's strength, certainty, direction and place in its guideline.

    None for records that are not recommendations. Reads ``record.guideline`` (load it with the
    record: ``select_related("guideline")``).
    """
    if record.kind != "recommendation" or record.guideline is None:
        return None
    detail = record.recommendation or {}
    guideline = record.guideline
    anchor = str(detail.get("anchor", ""))
    return {
        "text": record.recommendation_text,
        "number": str(detail.get("number", "")),
        "section": str(detail.get("section", "")),
        "strength": str(detail.get("strength", "")),
        "certainty": str(detail.get("certainty", "")),
        "direction": str(detail.get("direction", "")),
        "grade": str(detail.get("grade", "")),
        "strength_wording": str(detail.get("strength_wording", "")),
        "population": str(detail.get("population", "")),
        "anchor": anchor,
        "superseded": bool(record.superseded),
        "source_url": str(detail.get("source_url", "")) or guideline.url or None,
        "page": guideline_path(guideline, anchor=anchor),
        "guideline": guideline_payload(guideline),
    }


@dataclass(frozen=True)
class RecommendationView:
    """A recommendation as a card or the guideline page shows it (labels spelled out)."""

    number: str
    text: str
    section: str
    strength: str
    strength_label: str
    certainty_label: str
    direction_label: str
    grade: str
    strength_wording: str
    population: str
    anchor: str
    page: str
    source_url: str
    guideline_title: str
    issuer: str
    year: int | None
    warning: str

    @property
    def grade_label(self) -> str:
        """e.g. "Grade B" for a letter grade; the scheme's own words otherwise."""
        if not self.grade:
            return ""
        return gettext("Grade %(grade)s") % {"grade": self.grade} if len(self.grade) <= 3 else self.grade


def recommendation_view(record: EvidenceRecord) -> RecommendationView | None:
    """Return the view of a recommendation record, or None for other records."""
    payload = recommendation_payload(record)
    if payload is None:
        return None
    guideline = payload["guideline"]
    status = guideline_status(record.guideline)  # type: ignore[arg-type]
    warning = gettext("Superseded by a newer version of this guideline.") if record.superseded else status.warning
    return RecommendationView(
        number=payload["number"],
        text=payload["text"],
        section=payload["section"],
        strength=payload["strength"],
        strength_label=label(STRENGTH_LABELS, payload["strength"]),
        certainty_label=label(CERTAINTY_LABELS, payload["certainty"]),
        direction_label=label(DIRECTION_LABELS, payload["direction"]),
        grade=payload["grade"],
        strength_wording=payload["strength_wording"],
        population=payload["population"],
        anchor=payload["anchor"],
        page=payload["page"],
        source_url=payload["source_url"] or "",
        guideline_title=guideline["title"],
        issuer=guideline["issuer"],
        year=guideline["year"],
        warning=warning,
    )
