"""The evidence scale: ordered levels, strongest first (see docs/evidence-levels.md)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class EvidenceLevel(enum.StrEnum):
    GUIDELINE = "guideline"
    SYSTEMATIC_REVIEW = "systematic_review"
    RCT = "rct"
    NON_RANDOMISED_TRIAL = "non_randomised_trial"
    COHORT = "cohort"
    CASE_CONTROL = "case_control"
    CROSS_SECTIONAL = "cross_sectional"
    CASE_SERIES = "case_series"
    NARRATIVE_REVIEW = "narrative_review"
    EXPERT_OPINION = "expert_opinion"
    PRECLINICAL = "preclinical"
    UNKNOWN = "unknown"


def N_(text: str) -> str:
    """Mark a level name for translation (``makemessages``) and return it unchanged: stored
    explanations stay English; pages translate the name when they show it (``gettext``)."""
    return text


@dataclass(frozen=True)
class LevelInfo:
    level: EvidenceLevel
    rank: int  # 1 is strongest
    name: str
    short_name: str
    colour: str  # badge background; text on it is white or black for WCAG AA contrast
    text_colour: str


LEVELS: tuple[LevelInfo, ...] = (
    LevelInfo(EvidenceLevel.GUIDELINE, 1, N_("Clinical practice guideline"), N_("Guideline"), "#1b5e20", "#ffffff"),
    LevelInfo(
        EvidenceLevel.SYSTEMATIC_REVIEW,
        2,
        N_("Systematic review / meta-analysis"),
        N_("Systematic review"),
        "#2e7d32",
        "#ffffff",
    ),
    LevelInfo(EvidenceLevel.RCT, 3, N_("Randomised controlled trial"), N_("RCT"), "#0d47a1", "#ffffff"),
    LevelInfo(
        EvidenceLevel.NON_RANDOMISED_TRIAL,
        4,
        N_("Non-randomised controlled trial"),
        N_("Non-randomised trial"),
        "#1565c0",
        "#ffffff",
    ),
    LevelInfo(EvidenceLevel.COHORT, 5, N_("Cohort study"), N_("Cohort"), "#4527a0", "#ffffff"),
    LevelInfo(EvidenceLevel.CASE_CONTROL, 6, N_("Case-control study"), N_("Case-control"), "#6a1b9a", "#ffffff"),
    LevelInfo(
        EvidenceLevel.CROSS_SECTIONAL, 7, N_("Cross-sectional study"), N_("Cross-sectional"), "#7b1fa2", "#ffffff"
    ),
    LevelInfo(EvidenceLevel.CASE_SERIES, 8, N_("Case series / case report"), N_("Case report"), "#e65100", "#000000"),
    LevelInfo(EvidenceLevel.NARRATIVE_REVIEW, 9, N_("Narrative review"), N_("Review"), "#f9a825", "#000000"),
    LevelInfo(
        EvidenceLevel.EXPERT_OPINION,
        10,
        N_("Expert opinion (editorial, comment, letter)"),
        N_("Opinion"),
        "#bdbdbd",
        "#000000",
    ),
    LevelInfo(
        EvidenceLevel.PRECLINICAL, 11, N_("Preclinical (animal or in-vitro)"), N_("Preclinical"), "#8d6e63", "#000000"
    ),
    LevelInfo(EvidenceLevel.UNKNOWN, 12, N_("Unknown design"), N_("Unknown"), "#eeeeee", "#000000"),
)
_BY_LEVEL = {info.level: info for info in LEVELS}
_BY_SLUG = {info.level.value: info for info in LEVELS}
_WEAKEST = max(info.rank for info in LEVELS)


def level_info(level: str | None) -> LevelInfo:
    """Return the scale entry for a level slug; None or an unknown slug is UNKNOWN."""
    return _BY_SLUG.get(str(level), _BY_LEVEL[EvidenceLevel.UNKNOWN])


def level_strength(level: str | None, *, retracted: bool = False) -> float:
    """Return 1.0 for the strongest level down to 0.0 for unknown; retracted records get 0.0."""
    if retracted:
        return 0.0
    return (_WEAKEST - level_info(level).rank) / (_WEAKEST - 1)


def levels_stylesheet() -> str:
    """Return the CSS of the level colours (``static/portal/levels.css``): one class per level,
    so pages colour badges without inline styles (the content security policy forbids them).
    Regenerate with ``python -m records.evidence.levels > static/portal/levels.css``."""
    lines = ["/* Generated from records/evidence/levels.py: python -m records.evidence.levels */"]
    for info in LEVELS:
        slug = info.level.value
        lines.append(f".level-{slug} {{ background: {info.colour}; color: {info.text_colour}; }}")
    return "\n".join(lines) + "\n"


def expected_strength(probabilities: Mapping[str, float]) -> float:
    """Return the expected strength over rung probabilities: sum of p(level) * level_strength(level).

    A record 60 % RCT and 40 % cohort lands between the two; no probabilities give 0.0.
    """
    return float(sum(p * level_strength(level) for level, p in probabilities.items()))


if __name__ == "__main__":
    print(levels_stylesheet(), end="")
