"""One reading of recommendation strength, certainty and direction, shared by every reader.

``normalise_strength`` reads a publisher's label ("Strong For", "(B recommendation)", "1B",
"Weak Recommendation, Low-Quality Evidence", "Category IB", "recommendation category: A,
evidence type: 3", "[EO]", "Starke Empfehlung") into the fixed vocabulary of ``types``;
``wording_rating`` reads the verbs of a recommendation's own sentence ("we recommend against",
"consider", "should be offered"). The mapping is documented in docs/guidelines.md.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ingest.guidelines.types import Certainty, Direction, Strength


class StrengthRating(NamedTuple):
    """Normalised strength, certainty and direction (each may be empty: not stated)."""

    strength: str = Strength.UNRATED
    certainty: str = Certainty.UNSTATED
    direction: str = Direction.UNSTATED


_DASHES = re.compile("[\u2010-\u2015\u2212]")

_CERTAINTY_WORDS = {
    "strong": Certainty.HIGH,
    "sufficient": Certainty.MODERATE,
    "high": Certainty.HIGH,
    "moderate": Certainty.MODERATE,
    "low": Certainty.LOW,
    "very low": Certainty.VERY_LOW,
    "very-low": Certainty.VERY_LOW,
    "very_low": Certainty.VERY_LOW,
    "hoch": Certainty.HIGH,
    "moderat": Certainty.MODERATE,
    "mäßig": Certainty.MODERATE,
    "niedrig": Certainty.LOW,
    "gering": Certainty.LOW,
    "sehr niedrig": Certainty.VERY_LOW,
    "sehr gering": Certainty.VERY_LOW,
}
_LEVEL_CERTAINTY = {"a": Certainty.HIGH, "b": Certainty.MODERATE, "c": Certainty.LOW, "d": Certainty.VERY_LOW}
_EVIDENCE_TYPE = {"1": Certainty.HIGH, "2": Certainty.MODERATE, "3": Certainty.LOW, "4": Certainty.VERY_LOW}

_CERT_WORD = r"(very[ -]low|high|moderate|low)"
_CERTAINTY_PATTERNS = (
    # Community Guide: "on the basis of strong / sufficient evidence of effectiveness"
    re.compile(r"\b(?:on the basis of|based on) (strong|sufficient) evidence\b"),
    # "moderate certainty of evidence", "Low-Quality Evidence", "high quality evidence"
    re.compile(rf"\b{_CERT_WORD}[ -](?:quality|certainty|level)\b(?:[ -]of)?(?:[ -](?:the )?evidence)?"),
    # "certainty of evidence: moderate", "quality of evidence: low", "evidence: high"
    re.compile(
        rf"\b(?:certainty|quality|strength|level|grade)(?: of(?: the)?)? evidence\b\s*(?:is|was|[:=])?\s*{_CERT_WORD}\b"
    ),
    re.compile(rf"\bevidence\s*[:=]\s*{_CERT_WORD}\b"),
    re.compile(rf"\b(?:overall certainty|certainty|gesamtqualität|evidenzqualität)\s*[:=]?\s*{_CERT_WORD}\b"),
    re.compile(rf"^\s*{_CERT_WORD}(?: quality)?\s*$"),
)

_EXPERT = re.compile(
    r"\b(?:expert opinion|expert consensus|consensus|good practice(?: point| statement)?|gpp|ccp|panel expertise"
    r"|best practice statement|konsens|expertenkonsens)\b|^\s*\[?eo\]?\s*$|^\s*e\s*$"
)
_NOT_APPLICABLE = re.compile(r"^\s*(?:n/?a|not applicable)\b")


def _norm(text: str) -> str:
    text = _DASHES.sub("-", text or "").lower()
    text = text.replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip(" \t\n()[]{}.;:,*")


def certainty_from_text(text: str) -> str:
    """Return the normalised certainty a phrase states ("moderate-quality evidence"), or ""."""
    low = _norm(text)
    for pattern in _CERTAINTY_PATTERNS:
        match = pattern.search(low)
        if match:
            return _CERTAINTY_WORDS.get(match.group(1).replace("-", " "), Certainty.UNSTATED)
    return Certainty.UNSTATED


def grade_label(wording: str) -> str:
    """Return the publisher's grade label as printed, without brackets ("B", "Strong For", "1B")."""
    text = re.sub(r"\s+", " ", _DASHES.sub("-", wording or "")).strip(" \t\n()[]{}.;:,*")
    match = re.match(r"^(?:grade\s+)?([ABCDI])\s+(?:recommendation|statement)\b", text, re.I)
    if match:
        return match.group(1).upper()
    head = re.split(r"[;]", text, maxsplit=1)[0].strip()
    return head[:80]


def normalise_strength(wording: str) -> StrengthRating:
    """Return the normalised (strength, certainty, direction) a strength label states.

    Unknown wording gives empty fields, never an error. Direction is set only when the label
    itself states it (USPSTF D, "Strong Against"); callers take it from the sentence otherwise.
    """
    low = _norm(wording)
    if not low or len(low) > 400:
        return StrengthRating()
    certainty = certainty_from_text(low)

    # USPSTF: "B recommendation", "Grade A", "I statement", a bare letter "[B]".
    m = re.match(r"^(?:(?:uspstf )?grade[: ]\s*)?([abcdi])(?: recommendation| statement| grade)?$", low)
    if m is None:
        m = re.match(r"^(?:(?:uspstf )?grade[: ]\s*)?([abcdi]) (?:recommendation|statement)\b", low)
    if m:
        letter = m.group(1)
        if letter in "ab":
            return StrengthRating(Strength.STRONG, certainty, Direction.FOR)
        if letter == "c":
            return StrengthRating(Strength.CONDITIONAL, certainty, Direction.FOR)
        if letter == "d":
            return StrengthRating(Strength.STRONG, certainty, Direction.AGAINST)
        return StrengthRating(Strength.INSUFFICIENT, certainty, Direction.UNSTATED)

    # CDC 2016 opioid guideline: "recommendation category: A, evidence type: 3".
    m = re.search(r"recommendation category\s*[:=]?\s*([ab])\b", low)
    if m:
        ev = re.search(r"evidence type\s*[:=]?\s*([1-4])", low)
        cert = _EVIDENCE_TYPE[ev.group(1)] if ev else certainty
        strength = Strength.STRONG if m.group(1) == "a" else Strength.CONDITIONAL
        return StrengthRating(strength, cert, Direction.UNSTATED)

    # HICPAC / CDC PHS categories: "Category IA" .. "Category ID", "Category II", "IIA", "IIB".
    # A certainty range ("high- to moderate-quality") maps to its upper end.
    m = re.match(r"^category ?(i[abcd]|ii[ab]?|iii)\b", low)
    if m:
        cat = m.group(1)
        category_certainty = {"ia": Certainty.HIGH, "ib": Certainty.LOW, "iia": Certainty.HIGH, "iib": Certainty.LOW}
        cert = category_certainty.get(cat, certainty)
        if cat.startswith("ii") and cat != "iii":
            return StrengthRating(Strength.CONDITIONAL, cert, Direction.UNSTATED)
        if cat == "iii":
            return StrengthRating(Strength.INSUFFICIENT, certainty, Direction.UNSTATED)
        return StrengthRating(Strength.STRONG, cert, Direction.UNSTATED)
    if re.match(r"^(?:no recommendation|unresolved issue)", low):
        return StrengthRating(Strength.INSUFFICIENT, certainty, Direction.UNSTATED)

    # ACC/AHA-style class and level: "IIB", "( IIa )", "Class I, Level A", "III-A".
    m = re.match(r"^(?:class ?)?(iii|ii|i)(a|b)?(?:[ ,;/-]*(?:level(?: of evidence)? ?)?([abc]))?$", low)
    if m:
        cls, sub, level = m.group(1), m.group(2), m.group(3)
        cert = _LEVEL_CERTAINTY.get(level or "", certainty)
        if cls == "i" and not sub:
            return StrengthRating(Strength.STRONG, cert, Direction.FOR)
        if cls == "ii":
            return StrengthRating(Strength.CONDITIONAL, cert, Direction.FOR)
        if cls == "iii":
            return StrengthRating(Strength.STRONG, cert, Direction.AGAINST)
        # "IA"/"IB": class I with level A/B.
        return StrengthRating(Strength.STRONG, _LEVEL_CERTAINTY.get(sub or "", certainty), Direction.FOR)

    # GRADE numeric: "1B", "2C", "Grade 1A".
    m = re.match(r"^(?:grade ?)?([12]) ?([a-d])$", low)
    if m:
        strength = Strength.STRONG if m.group(1) == "1" else Strength.CONDITIONAL
        return StrengthRating(strength, _LEVEL_CERTAINTY[m.group(2)], Direction.UNSTATED)

    # Words: "Strong For", "Weak Against", "Strong Recommendation, Moderate-Quality Evidence",
    # "conditional recommendation", "Open Recommendation", "Starke Empfehlung".
    direction = Direction.UNSTATED
    if re.search(r"\b(?:against|dagegen|negativ)\b|\bsoll nicht\b|\bsollte nicht\b", low):
        direction = Direction.AGAINST
    elif re.search(r"\b(?:for|favou?rs? (?:the )?intervention|in favou?r|dafür|positiv)\b", low):
        direction = Direction.FOR
    if re.search(r"\binsufficient\b|\binconclusive\b|\bno recommendation\b|\bneither for nor against\b", low):
        return StrengthRating(Strength.INSUFFICIENT, certainty, Direction.UNSTATED)
    if re.search(r"\bstrong(?:ly)?\b|\bstarke?\b|\bsoll\b|\bmust\b", low):
        return StrengthRating(Strength.STRONG, certainty, direction)
    if re.search(
        r"\b(?:weak|conditional|moderate (?:recommendation|strength)|discretionary|optional|open|qualified"
        r"|schwache?|offen|offene|sollte|kann)\b",
        low,
    ):
        return StrengthRating(Strength.CONDITIONAL, certainty, direction)
    if _EXPERT.search(low):
        return StrengthRating(Strength.EXPERT_OPINION, certainty, direction)
    if re.match(r"^(?:recommended|recommendation|empfehlung)$", low):
        return StrengthRating(Strength.STRONG, certainty, Direction.FOR)
    if re.match(r"^(?:recommended against|not recommended)$", low):
        return StrengthRating(Strength.STRONG, certainty, Direction.AGAINST)
    return StrengthRating(Strength.UNRATED, certainty, direction)


def is_strength_label(wording: str) -> bool:
    """True when ``wording`` is a strength/certainty label (not an ordinary parenthesis)."""
    low = _norm(wording)
    if not low or len(low) > 120:
        return False
    if _NOT_APPLICABLE.match(low):
        return True
    if re.match(r"^(?:design|see|e\.g|i\.e|or |available|including|with|such|the |for |if )", low):
        return False
    if re.match(r"^(?:(?:not|generally not|not generally) )?recommended(?: against)?$", low):
        return False  # wording, read from the sentence (Colorado's "X (not recommended)")
    rating = normalise_strength(low)
    if rating.strength or rating.certainty:
        # Plain words like "weak" or "open" inside an ordinary parenthesis are not labels:
        # require the whole parenthesis to be label vocabulary.
        words = re.findall(r"[a-zäöüß/]+|\d+", low)
        vocabulary = _LABEL_VOCABULARY
        return sum(w in vocabulary for w in words) >= max(1, len(words) - 1)
    return False


_LABEL_VOCABULARY = frozenset(
    " ".join(
        (
            "a b c d i ia ib ic ii iia iib iii e eo 1 2 3 4 1a 1b 1c 2a 2b 2c 2d grade recommendation recommendations",
            "statement strong strength weak conditional moderate for against high low very quality certainty",
            "evidence of level class category type consensus panel expertise adapted expert opinion good",
            "practice point gpp reviewed not new added replaced amended changed deleted n/a na applicable",
            "open discretionary optional insufficient uspstf starke schwache empfehlung offen offene soll",
            "sollte kann konsens recommended the and in favor favour favors favours intervention",
        )
    ).split()
)


_AGAINST_TEXT = re.compile(
    # An imperative "do not" / "avoid" opens the sentence or follows its opening clause.
    r"(?:^|[,;:]\s*)(?:do not|don't|avoid|never)\b"
    r"|\b(?:recommends? against|recommended against|suggests? against|suggests? not|advises? against"
    r"|(?:is|are) not (?:generally |routinely )?recommended|not (?:generally )?recommended"
    r"|(?:should|must) not|shouldn't|(?:clinicians|providers|you)(?: should)? avoid"
    r"|not be (?:offered|used|given|performed|prescribed|routinely)|discourage[sd]?"
    r"|against (?:the )?(?:use|routine|offering)|(?:is|are) not (?:generally |routinely )?indicated"
    r"|(?:is|are) (?:unnecessary|not necessary|not needed)|there is no indication for|refrain from)\b"
)
_INSUFFICIENT_TEXT = re.compile(
    r"\b(?:insufficient|inconclusive|not sufficient) evidence\b|\bevidence is insufficient\b"
    r"|\bno recommendation (?:for or against|can be made)\b|\b(?:recommend|suggest) for or against\b"
    r"|\bcurrent evidence is (?:insufficient|inadequate)\b|\bno evidence to (?:recommend|suggest|support)\b"
)
_CONDITIONAL_TEXT = re.compile(
    r"\b(?:suggests?|suggested|consider(?:ed|s)?|encouraged|may be (?:considered|offered|used|given|tried|reasonable"
    r"|appropriate|helpful)"
    r"|could be|selectively offer(?:ing)?|individual(?:ized)? decision|kann|sollte)\b"
)
_STRONG_TEXT = re.compile(
    r"\b(?:recommends?|recommended|should|must|offer(?:ing)?|(?:is|are) (?:not )?(?:generally )?indicated|soll"
    r"|do not|avoid|(?:is|are) (?:unnecessary|necessary|required)|is the recommendation|(?:needs?|have|has) to be"
    r"|there is no indication for|refrain from)\b"
    # An imperative opening ("Screen all adults", "Refer to ...") is a direct instruction.
    r"|^(?:administer|assess|begin|check|continue|discontinue|document|educate|encourage|evaluate|give|initiate"
    r"|make|monitor|obtain|order|perform|prescribe|provide|refer|reassess|rule[- ]in|rule[- ]out|screen"
    r"|start|stop|test|treat|use|vaccinate|counsel|advise|ensure|measure|repeat|review|limit|maintain)\b"
)


def first_sentence(text: str) -> str:
    """Return the opening sentence of ``text`` (the part that states a recommendation's verb)."""
    head = (text or "")[:1500]
    match = re.search(r"[.!?](?:\s+(?=[A-Z\u00c0-\u00de\"“(])|\s*\n)", head)
    return head[: match.start() + 1] if match else head


def wording_rating(text: str) -> StrengthRating:
    """Return the strength and direction a recommendation's own words state.

    "We recommend against" -> strong against; "we suggest" / "consider" -> conditional;
    "insufficient evidence to recommend for or against" -> insufficient; "should" / "offer" /
    "recommend" -> strong. Certainty comes from GRADE phrases in the text when present.
    """
    certainty = certainty_from_text(_norm(text)[:4000])
    low = _norm(first_sentence(text))
    if _INSUFFICIENT_TEXT.search(low):
        return StrengthRating(Strength.INSUFFICIENT, certainty, Direction.UNSTATED)
    direction = Direction.AGAINST if _AGAINST_TEXT.search(low) else Direction.FOR
    if re.search(r"\bsuggests? (?:against|not)\b", low) or _CONDITIONAL_TEXT.search(low):
        strong_first = _STRONG_TEXT.search(low)
        cond_first = _CONDITIONAL_TEXT.search(low)
        considered = re.search(r"\bshould (?:\w+ly )?(?:be considered|consider)\b", low)
        if (
            strong_first
            and cond_first
            and strong_first.start() < cond_first.start()
            and "suggest" not in low
            and not considered
        ):
            return StrengthRating(Strength.STRONG, certainty, direction)
        return StrengthRating(Strength.CONDITIONAL, certainty, direction)
    if _STRONG_TEXT.search(low):
        return StrengthRating(Strength.STRONG, certainty, direction)
    return StrengthRating(Strength.UNRATED, certainty, Direction.UNSTATED)


def direction_from_text(text: str) -> str:
    """Return "against" when the sentence recommends against, "for" when it recommends, else ""."""
    low = _norm(first_sentence(text))
    if _INSUFFICIENT_TEXT.search(low):
        return Direction.UNSTATED
    if _AGAINST_TEXT.search(low):
        return Direction.AGAINST
    if _STRONG_TEXT.search(low) or _CONDITIONAL_TEXT.search(low) or re.match(r"^[a-z]+", low):
        return Direction.FOR
    return Direction.UNSTATED
