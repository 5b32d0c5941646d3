"""Plain data the guideline readers produce: a guideline and its recommendations, as read.

The vocabulary of the normalised fields is fixed here (the portal filters and ranks on it);
the publisher's own wording is always kept beside it (``grade``, ``strength_wording``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


class Strength:
    """Normalised strength of a recommendation."""

    STRONG = "strong"  # GRADE strong, "recommend", "should", "offer", USPSTF A/B/D
    CONDITIONAL = "conditional"  # GRADE conditional/weak, "suggest", "consider", USPSTF C
    INSUFFICIENT = "insufficient"  # USPSTF I, "no recommendation for or against"
    EXPERT_OPINION = "expert_opinion"  # consensus / good practice point / expert opinion, no grade
    UNRATED = ""  # the document states no strength

    ALL = (STRONG, CONDITIONAL, INSUFFICIENT, EXPERT_OPINION)


class Certainty:
    """Normalised certainty (quality) of the evidence behind a recommendation."""

    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"
    VERY_LOW = "very_low"
    UNSTATED = ""

    ALL = (HIGH, MODERATE, LOW, VERY_LOW)


class Direction:
    FOR = "for"
    AGAINST = "against"
    UNSTATED = ""  # e.g. an I statement

    ALL = (FOR, AGAINST)


@dataclass(frozen=True)
class ParsedRecommendation:
    """One recommendation of a guideline, in document order.

    ``number`` is the document's own label when it has one ("1", "8.16", "2a"), else the
    1-based position as a string. ``grade`` is the publisher's label as printed ("B", "Strong
    for", "IIB", "1B", "A"); ``strength_wording`` is the words that gave the strength and
    certainty (shown so a reader can see why). ``anchor`` is a fragment id that is stable across
    harvests of the same document version.
    """

    number: str
    text: str
    section: str = ""
    strength: str = Strength.UNRATED
    certainty: str = Certainty.UNSTATED
    direction: str = Direction.UNSTATED
    grade: str = ""
    strength_wording: str = ""
    population: str = ""
    anchor: str = ""
    source_url: str = ""  # link to the recommendation in the source document, when it has one


@dataclass(frozen=True)
class ParsedGuideline:
    """One guideline document as a reader read it, before it is stored.

    ``source`` names the reader ("uspstf", "ngc", "fhir", "oai", "feed", "upload", "pubmed");
    ``source_id`` is the document's id in that source. ``sections`` are the section headings in
    order. A document whose recommendations could not be split keeps its text in ``summary``.
    """

    source: str
    source_id: str
    title: str
    issuer: str = ""
    year: int | None = None
    published: date | None = None
    url: str = ""
    doi: str = ""
    version: str = ""
    language: str = ""
    summary: str = ""
    sections: tuple[str, ...] = ()
    recommendations: tuple[ParsedRecommendation, ...] = ()
    # The strength scheme's own definition, when the document carries one (NGC "Rating Scheme").
    rating_scheme: str = ""
    # Ids in the same source of versions this one replaces, when the document says so.
    replaces: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class DeletedGuideline:
    """A source says this document is gone (an OAI-PMH header with status="deleted")."""

    source: str
    source_id: str


class GuidelineParseError(ValueError):
    """A document could not be read; the message says why in words a person can act on."""
