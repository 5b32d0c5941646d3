"""The bottom line above the results: the best-matching guideline recommendation and the
conclusion of the best-matching systematic review, extracted (never generated) from the records.

``bottom_line`` is a pure function over the top search candidates and their records. Only
sentences that exist in the records are returned: a recommendation's own text, a review's
CONCLUSIONS section (or, for an unstructured abstract, its last sentences). An item is shown only
when it matches the query strongly enough: it must rank among the top ``TOP_K`` candidates, hold
at least ``MIN_COVERAGE`` of the query's content words and be at least ``MIN_SIMILARITY`` close
by vector when a vector is known. The thresholds were chosen on the labelled questions of
``bench/data/clinical_questions.jsonl`` (``bench/bottom_line.py``; docs/search.md). When
nothing qualifies the panel is absent rather than wrong.

Conflicts are reported, never resolved: two qualifying recommendations pointing in opposite
directions (for / against), or a newer qualifying systematic review whose conclusion reads in the
opposite direction to the one shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search import analysis

if TYPE_CHECKING:
    from records.models import EvidenceRecord

TOP_K = 10
MIN_COVERAGE = 0.7
MIN_SIMILARITY = 0.45
CONCLUSION_LABELS = ("CONCLUSIONS", "CONCLUSION", "INTERPRETATION", "AUTHORS' CONCLUSIONS", "IMPLICATIONS")
LAST_SENTENCES = 2

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
# Words that say a review found no benefit (or harm): the direction of its conclusion.
_AGAINST = re.compile(
    r"\b(no (significant |clear |convincing )?(benefit|effect|difference|evidence|reduction|improvement|association)"
    r"|did not (reduce|improve|decrease|lower|prevent|show|find)|does not (reduce|improve|prevent)"
    r"|not (associated|effective|recommended|beneficial)|ineffective|increased (the )?risk of harm|harmful"
    r"|insufficient evidence)\b",
    re.IGNORECASE,
)
_FOR = re.compile(
    r"\b(reduc(e|es|ed|tion)|improv(e|es|ed|ement)|effective|benefi(t|ts|cial)|lower(s|ed)?|prevent(s|ed)?"
    r"|decreas(e|es|ed)|recommend(ed)?|should be (offered|used|considered))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """One top search candidate: its record, its rank by relevance (1 = best) and the cosine of
    its vector to the query's (None when vectors were not used or it was not a vector hit)."""

    record: EvidenceRecord
    rank: int
    similarity: float | None = None


@dataclass(frozen=True)
class PanelItem:
    """A recommendation or a review conclusion as shown: its own words, with where they come from."""

    kind: str  # "recommendation" | "systematic_review"
    uid: str
    title: str
    text: str
    citation: str
    evidence_level: str
    year: int | None
    url: str
    direction: str = ""  # for | against | "" (unknown)
    strength: str = ""
    certainty: str = ""
    issuer: str = ""
    rank: int = 0
    coverage: float = 0.0


@dataclass(frozen=True)
class BottomLine:
    recommendation: PanelItem | None = None
    review: PanelItem | None = None
    # Items that disagree with the one shown (opposite direction), shown beside it.
    conflicts: tuple[PanelItem, ...] = field(default_factory=tuple)
    # The recommendation and the review shown point in opposite directions.
    disagree: bool = False
    # Which of the two matches the question better, and is shown first.
    lead: str = "recommendation"

    @property
    def has_conflict(self) -> bool:
        return bool(self.conflicts) or self.disagree

    @property
    def first(self) -> PanelItem | None:
        """Return the item shown first (the better match)."""
        if self.lead == "systematic_review" and self.review is not None:
            return self.review
        return self.recommendation or self.review


def coverage(query_stems: Iterable[str], record: EvidenceRecord) -> float:
    """Return the share of the query's content stems found in the record's title and text."""
    stems = set(query_stems)
    if not stems:
        return 0.0
    text = " ".join([record.title, record.recommendation_text or "", record.abstract or ""])
    found = set(analysis.query_terms(text))
    return len(stems & found) / len(stems)


def split_sentences(text: str) -> list[str]:
    """Return the sentences of ``text`` (split after . ! ? before a capital or digit)."""
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if s.strip()]


def review_conclusion(record: EvidenceRecord) -> str:
    """Return a review's conclusion in its own words: the CONCLUSIONS section of a structured
    abstract, else the last ``LAST_SENTENCES`` sentences of the abstract ("" when none)."""
    for section in record.abstract_sections or []:
        label = str(section.get("category") or section.get("label") or "").upper().strip()
        if label in CONCLUSION_LABELS and str(section.get("text", "")).strip():
            return " ".join(str(section["text"]).split())
    sentences = split_sentences(record.abstract or "")
    return " ".join(sentences[-LAST_SENTENCES:])


def conclusion_direction(text: str) -> str:
    """Return "against" when the conclusion says no benefit (or harm), "for" when it says a
    benefit, "" when it says neither. Reads words; does not rewrite anything."""
    if _AGAINST.search(text):
        return "against"
    if _FOR.search(text):
        return "for"
    return ""


def citation(record: EvidenceRecord) -> str:
    """Return a short citation: first author et al., journal or issuer, year, PMID."""
    parts = []
    authors = [str(a) for a in record.authors or []]
    if authors:
        parts.append(authors[0] + (" et al." if len(authors) > 1 else ""))
    issuer = _issuer(record)
    source = record.journal_abbreviation or record.journal or issuer
    if source:
        parts.append(source)
    if _year(record):
        parts.append(str(_year(record)))
    if record.pmid:
        parts.append(f"PMID {record.pmid}")
    return ". ".join(parts)


def _issuer(record: EvidenceRecord) -> str:
    guideline = getattr(record, "guideline", None)
    return record.issuing_body or (guideline.issuer if guideline is not None else "")


def _year(record: EvidenceRecord) -> int | None:
    guideline = getattr(record, "guideline", None)
    return record.publication_year or (guideline.year if guideline is not None else None)


def _url(record: EvidenceRecord) -> str:
    guideline = getattr(record, "guideline", None)
    return record.url or record.pubmed_url or (guideline.url if guideline is not None else "")


def is_recommendation(record: EvidenceRecord) -> bool:
    return record.kind == "recommendation" and bool((record.recommendation_text or record.abstract).strip())


def is_review(record: EvidenceRecord) -> bool:
    return record.evidence_level == "systematic_review" and record.kind == "article" and not record.retracted


def recommendation_item(candidate: Candidate, coverage: float = 0.0) -> PanelItem:
    record = candidate.record
    rec = record.recommendation or {}
    return PanelItem(
        kind="recommendation",
        uid=record.uid,
        title=record.title,
        text=" ".join((record.recommendation_text or record.abstract).split()),
        citation=citation(record),
        evidence_level=record.evidence_level or "guideline",
        year=_year(record),
        url=_url(record),
        direction=str(rec.get("direction") or ""),
        strength=str(rec.get("strength") or ""),
        certainty=str(rec.get("certainty") or ""),
        issuer=_issuer(record),
        rank=candidate.rank,
        coverage=coverage,
    )


def review_item(candidate: Candidate, coverage: float = 0.0) -> PanelItem:
    record = candidate.record
    text = review_conclusion(record)
    return PanelItem(
        kind="systematic_review",
        uid=record.uid,
        title=record.title,
        text=text,
        citation=citation(record),
        evidence_level=record.evidence_level or "systematic_review",
        year=_year(record),
        url=_url(record),
        direction=conclusion_direction(text),
        rank=candidate.rank,
        coverage=coverage,
    )


def bottom_line(
    candidates: Sequence[Candidate],
    query_stems: frozenset[str],
    *,
    top_k: int | None = None,
    min_coverage: float | None = None,
    min_similarity: float | None = None,
) -> BottomLine | None:
    """Return the panel for a query's top candidates, or None when no recommendation or review
    qualifies: among the top ``top_k`` by relevance, at least ``min_coverage`` of the query's
    words and (when known) at least ``min_similarity`` cosine. The best match is the one covering
    most of the query, then the better ranked."""
    top_k = TOP_K if top_k is None else top_k
    min_coverage = MIN_COVERAGE if min_coverage is None else min_coverage
    min_similarity = MIN_SIMILARITY if min_similarity is None else min_similarity
    scored = []
    for c in candidates:
        if c.rank > top_k or (c.similarity is not None and c.similarity < min_similarity):
            continue
        share = coverage(query_stems, c.record)
        if share >= min_coverage:
            scored.append((share, c))
    scored.sort(key=lambda pair: (-pair[0], pair[1].rank))
    recs = [recommendation_item(c, share) for share, c in scored if is_recommendation(c.record)]
    reviews = [r for r in (review_item(c, share) for share, c in scored if is_review(c.record)) if r.text]
    if not recs and not reviews:
        return None
    conflicts: list[PanelItem] = []
    recommendation = recs[0] if recs else None
    if recommendation is not None and recommendation.direction:
        # Only an equally good match pointing the other way is a conflict (not another topic).
        opposite = next(
            (
                r
                for r in recs[1:]
                if r.direction and r.direction != recommendation.direction and r.coverage >= recommendation.coverage
            ),
            None,
        )
        if opposite is not None:
            conflicts.append(opposite)
    review = reviews[0] if reviews else None
    if review is not None and review.direction:
        newer = next(
            (
                r
                for r in reviews[1:]
                if r.direction
                and r.direction != review.direction
                and (r.year or 0) > (review.year or 0)
                and r.coverage >= review.coverage
            ),
            None,
        )
        if newer is not None:
            conflicts.append(newer)
    disagree = bool(
        recommendation
        and review
        and recommendation.direction
        and review.direction
        and recommendation.direction != review.direction
    )
    lead = "recommendation"
    if review is not None and (
        recommendation is None or (review.coverage, -review.rank) > (recommendation.coverage, -recommendation.rank)
    ):
        lead = "systematic_review"
    return BottomLine(
        recommendation=recommendation, review=review, conflicts=tuple(conflicts), disagree=disagree, lead=lead
    )
