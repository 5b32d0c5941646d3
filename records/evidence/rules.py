"""Rule-based grading from PubMed publication types and MeSH headings (pure, no database).

The rules run in a fixed precedence order (docs/evidence-levels.md); the first rule that
matches decides the level, and the grade names the publication types or headings that decided
it, so the portal can say "graded systematic review because PubMed lists it as Meta-Analysis".
Retraction never changes the level: it is a flag the ranking reads (``level_strength`` is 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from records.evidence.levels import EvidenceLevel, expected_strength, level_info, level_strength

RULES_VERSION = "rules-1"

# PubMed statuses of records NLM has not indexed yet (no MeSH, few publication types).
UNINDEXED_STATUSES = frozenset({"In-Process", "Publisher", "In-Data-Review"})
# Publication types that say nothing about the design (funding, language, article form).
UNINFORMATIVE_TYPES = frozenset(
    {
        "journal article",
        "english abstract",
        "research support, non-u.s. gov't",
        "research support, n.i.h., extramural",
        "research support, n.i.h., intramural",
        "research support, u.s. gov't, p.h.s.",
        "research support, u.s. gov't, non-p.h.s.",
        "research support, american recovery and reinvestment act",
        "research support, u.s. government",
        "comparative study",
        "multicenter study",
        "evaluation study",
        "evaluation studies",
        "validation study",
        "validation studies",
        "twin study",
        "preprint",
        "introductory journal article",
        "video-audio media",
        "webcast",
        "dataset",
    }
)


@dataclass(frozen=True)
class Grade:
    """A graded record: its level, what decided it and how.

    ``reasons`` name the publication types / MeSH headings that decided the level;
    ``predicted`` is true when the design classifier, not PubMed's indexing, gave the level.
    """

    level: EvidenceLevel
    reasons: tuple[str, ...] = ()
    explanation: str = ""
    predicted: bool = False
    probability: float | None = None
    model_version: str = RULES_VERSION
    retracted: bool = False
    # True when the rules could not grade because PubMed has not indexed the record yet.
    needs_prediction: bool = False
    # The classifier's calibrated probability of every rung ({} for grades from the indexing), the
    # features that drove it, and the most likely rung (even when below the threshold).
    probabilities: Mapping[str, float] = field(default_factory=dict)
    cues: tuple[str, ...] = ()
    best_level: str = ""

    @property
    def strength(self) -> float:
        """Return what the "best evidence" boost reads: the level's strength for a grade from the
        indexing, the expected strength over the rung probabilities for a prediction (0 retracted)."""
        if self.retracted:
            return 0.0
        if self.probabilities:
            return expected_strength(self.probabilities)
        return level_strength(self.level)

    @property
    def source(self) -> str:
        return "predicted" if self.predicted else "indexed"


@dataclass(frozen=True)
class Rule:
    """One rung of the precedence order: a level and the evidence that selects it."""

    level: EvidenceLevel
    label: str  # what the explanation calls it
    publication_types: frozenset[str] = frozenset()
    mesh: frozenset[str] = frozenset()
    # Extra condition on the full (lower-cased) sets; None means "any match of the above".
    condition: Callable[[frozenset[str], frozenset[str]], tuple[str, ...]] | None = None


def _lower(values: Sequence[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v and v.strip())


def _animals_only(types: frozenset[str], mesh: frozenset[str]) -> tuple[str, ...]:
    reasons: list[str] = []
    if "animals" in mesh and "humans" not in mesh:
        reasons.append("MeSH heading Animals without Humans")
    if "in vitro" in types:
        reasons.append("PubMed publication type In Vitro")
    return tuple(reasons)


def _notice_only(types: frozenset[str], mesh: frozenset[str]) -> tuple[str, ...]:
    # A notice (retraction, erratum, concern) reports no study; graded unknown with a reason.
    notices = {
        "retraction of publication": "PubMed publication type Retraction of Publication",
        "published erratum": "PubMed publication type Published Erratum",
        "expression of concern": "PubMed publication type Expression of Concern",
    }
    return tuple(text for key, text in notices.items() if key in types)


# The precedence order, strongest design first (see docs/evidence-levels.md for the reasons).
RULES: tuple[Rule, ...] = (
    Rule(EvidenceLevel.UNKNOWN, "notice, not a study", condition=_notice_only),
    Rule(EvidenceLevel.GUIDELINE, "clinical practice guideline", frozenset({"practice guideline", "guideline"})),
    Rule(EvidenceLevel.SYSTEMATIC_REVIEW, "systematic review", frozenset({"systematic review", "meta-analysis"})),
    Rule(
        EvidenceLevel.RCT,
        "randomised controlled trial",
        frozenset({"randomized controlled trial", "pragmatic clinical trial", "equivalence trial"}),
    ),
    Rule(
        EvidenceLevel.PRECLINICAL,
        "animal study",
        frozenset(
            {
                "randomized controlled trial, veterinary",
                "clinical trial, veterinary",
                "observational study, veterinary",
            }
        ),
    ),
    Rule(
        EvidenceLevel.NON_RANDOMISED_TRIAL,
        "non-randomised controlled trial",
        frozenset(
            {
                "controlled clinical trial",
                "clinical trial",
                "clinical trial, phase i",
                "clinical trial, phase ii",
                "clinical trial, phase iii",
                "clinical trial, phase iv",
                "adaptive clinical trial",
            }
        ),
    ),
    Rule(EvidenceLevel.PRECLINICAL, "preclinical (animal or in-vitro only)", condition=_animals_only),
    Rule(
        EvidenceLevel.COHORT,
        "cohort study",
        mesh=frozenset({"cohort studies", "prospective studies", "longitudinal studies", "follow-up studies"}),
    ),
    Rule(EvidenceLevel.CASE_CONTROL, "case-control study", mesh=frozenset({"case-control studies"})),
    Rule(EvidenceLevel.CROSS_SECTIONAL, "cross-sectional study", mesh=frozenset({"cross-sectional studies"})),
    # MeSH files Retrospective Studies under Cohort Studies; used only when nothing more specific is.
    Rule(EvidenceLevel.COHORT, "cohort study", mesh=frozenset({"retrospective studies"})),
    # An observational study with no design heading: graded conservatively, weakest analytic design.
    Rule(EvidenceLevel.CROSS_SECTIONAL, "observational study", frozenset({"observational study"})),
    Rule(EvidenceLevel.CASE_SERIES, "case report", frozenset({"case reports"})),
    Rule(EvidenceLevel.NARRATIVE_REVIEW, "narrative review", frozenset({"review", "scientific integrity review"})),
    Rule(
        EvidenceLevel.EXPERT_OPINION,
        "expert opinion",
        frozenset(
            {
                "editorial",
                "comment",
                "letter",
                "news",
                "newspaper article",
                "interview",
                "lecture",
                "address",
                "personal narrative",
                "consensus development conference",
                "consensus development conference, nih",
            }
        ),
    ),
)

# The canonical spelling of every publication type and heading the rules name (for reasons).
_CANONICAL = {
    "practice guideline": "Practice Guideline",
    "guideline": "Guideline",
    "systematic review": "Systematic Review",
    "meta-analysis": "Meta-Analysis",
    "randomized controlled trial": "Randomized Controlled Trial",
    "pragmatic clinical trial": "Pragmatic Clinical Trial",
    "equivalence trial": "Equivalence Trial",
    "randomized controlled trial, veterinary": "Randomized Controlled Trial, Veterinary",
    "clinical trial, veterinary": "Clinical Trial, Veterinary",
    "observational study, veterinary": "Observational Study, Veterinary",
    "controlled clinical trial": "Controlled Clinical Trial",
    "clinical trial": "Clinical Trial",
    "clinical trial, phase i": "Clinical Trial, Phase I",
    "clinical trial, phase ii": "Clinical Trial, Phase II",
    "clinical trial, phase iii": "Clinical Trial, Phase III",
    "clinical trial, phase iv": "Clinical Trial, Phase IV",
    "adaptive clinical trial": "Adaptive Clinical Trial",
    "cohort studies": "Cohort Studies",
    "prospective studies": "Prospective Studies",
    "longitudinal studies": "Longitudinal Studies",
    "follow-up studies": "Follow-Up Studies",
    "retrospective studies": "Retrospective Studies",
    "case-control studies": "Case-Control Studies",
    "cross-sectional studies": "Cross-Sectional Studies",
    "observational study": "Observational Study",
    "case reports": "Case Reports",
    "review": "Review",
    "scientific integrity review": "Scientific Integrity Review",
    "editorial": "Editorial",
    "comment": "Comment",
    "letter": "Letter",
    "news": "News",
    "newspaper article": "Newspaper Article",
    "interview": "Interview",
    "lecture": "Lecture",
    "address": "Address",
    "personal narrative": "Personal Narrative",
    "consensus development conference": "Consensus Development Conference",
    "consensus development conference, nih": "Consensus Development Conference, NIH",
}


def _name(value: str) -> str:
    return _CANONICAL.get(value, value)


def _match(rule: Rule, types: frozenset[str], mesh: frozenset[str]) -> tuple[str, ...]:
    if rule.condition is not None:
        return rule.condition(types, mesh)
    reasons = [f"PubMed publication type {_name(t)}" for t in sorted(rule.publication_types & types)]
    reasons += [f"MeSH heading {_name(h)}" for h in sorted(rule.mesh & mesh)]
    return tuple(reasons)


def awaits_indexing(
    *, publication_types: Sequence[str], mesh_descriptors: Sequence[str], publication_status: str = ""
) -> bool:
    """Return True when PubMed has not indexed the record yet, so the rules cannot see its design.

    That is a status of In-Process, Publisher or In-Data-Review, or a record
    with no MeSH headings whose publication types say nothing about design ("Journal Article").
    """
    if publication_status in UNINDEXED_STATUSES:
        return True
    if any(h.strip() for h in mesh_descriptors):
        return False
    return _lower(publication_types) <= UNINFORMATIVE_TYPES


def grade_by_rules(
    *,
    publication_types: Sequence[str],
    mesh_descriptors: Sequence[str],
    retracted: bool = False,
    publication_status: str = "",
) -> Grade:
    """Return the grade the precedence rules give (always exactly one level; UNKNOWN when none match).

    ``retracted`` (or a "Retracted Publication" type) sets the grade's retraction flag and
    leaves the level as it is. ``needs_prediction`` is set when the grade is UNKNOWN because the
    record awaits indexing (see ``awaits_indexing``).
    """
    types = _lower(publication_types)
    mesh = _lower(mesh_descriptors)
    is_retracted = retracted or "retracted publication" in types
    suffix = "; retracted: never ranked as strong evidence" if is_retracted else ""
    for rule in RULES:
        reasons = _match(rule, types, mesh)
        if reasons:
            if is_retracted and "retracted publication" in types:
                reasons = (*reasons, "PubMed publication type Retracted Publication")
            return Grade(
                level=rule.level,
                reasons=reasons,
                explanation=f"{rule.label}: {', '.join(reasons)}{suffix}",
                retracted=is_retracted,
            )
    waiting = awaits_indexing(
        publication_types=publication_types, mesh_descriptors=mesh_descriptors, publication_status=publication_status
    )
    reasons = ("PubMed publication type Retracted Publication",) if "retracted publication" in types else ()
    text = (
        "not yet indexed by PubMed: no publication type or MeSH heading names the design"
        if waiting
        else "no publication type or MeSH heading names the design"
    )
    return Grade(
        level=EvidenceLevel.UNKNOWN,
        reasons=reasons,
        explanation=f"{level_info(EvidenceLevel.UNKNOWN).name.lower()}: {text}{suffix}",
        retracted=is_retracted,
        needs_prediction=waiting,
    )
