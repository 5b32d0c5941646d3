"""Split a guideline's text into sections and recommendations.

The input is plain text, one block per line. Readers that start from HTML, DOCX or PDF use
the line form of ``ingest.guidelines.text``: ``# Heading``, ``•`` list items indented two
spaces per level, paragraph lines. Plain text without markers works too: headings are then
recognised as short lines without sentence punctuation, and wrapped lines are joined.

How a recommendation is found (rules, not fitted to single documents):

1. Blocks are list items and paragraphs; deeper list items and a label on a line of its own
   belong to the block above them.
2. A block that ends in a strength label ("(Strong For)", "(B recommendation)", "[EO]",
   "(1B)", "(Weak Recommendation, Low-Quality Evidence)") is a *labelled* recommendation.
3. When a document has two or more labelled blocks, only labelled blocks (and blocks that
   start "Recommendation N") are recommendations: the rest is discussion. Otherwise the
   wording decides: "we recommend / suggest (against)", "the Task Force recommends",
   "is (not) recommended", "should (not) be offered", "offer", "consider", "Recommendation N".
4. Blocks under definition, rating-scheme, method and reference headings never count.

Strength, certainty and direction come from the label through ``normalise_strength``, else
from the sentence's wording (``wording_rating``); the words that gave them are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.guidelines.strength import (
    StrengthRating,
    certainty_from_text,
    direction_from_text,
    first_sentence,
    grade_label,
    is_strength_label,
    normalise_strength,
    wording_rating,
)
from ingest.guidelines.types import Certainty, Direction, ParsedGuideline, ParsedRecommendation, Strength

__all__ = [
    "SplitResult",
    "StrengthRating",
    "guideline_from_text",
    "normalise_strength",
    "split_guideline_text",
]

MAX_TEXT_CHARS = 5_000_000
MAX_LINE_CHARS = 20_000
MAX_RECOMMENDATION_CHARS = 6_000


@dataclass(frozen=True)
class SplitResult:
    """Section headings in order, and the recommendations found, in document order."""

    sections: tuple[str, ...]
    recommendations: tuple[ParsedRecommendation, ...]


@dataclass
class _Block:
    depth: int
    lines: list[str]
    section: str
    number: str = ""
    label: str = ""
    excluded: bool = False
    prefixed: bool = False  # starts "Recommendation N" / "Recommendation:"
    collecting: bool = False  # ends with ":": the list that follows belongs to it
    heading_number: str = ""  # the number of a "Recommendation N" heading above it
    lead: str = ""  # a directive heading above it ("DO NOT USE", "Providers should")
    children: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        head = " ".join(self.lines).strip()
        if self.children:
            return head + "\n" + "\n".join(self.children)
        return head


_BULLET = re.compile(
    r"^(\s*)(?:[•\u2022\u25aa\u25cf\u25e6\u2023\u2043\u2219·▪◦●○■□➢►\-\u2013*]|(\(?\d{1,3}[a-z]?[.)]|\(?[a-z][.)]|\([ivx]{1,4}\)))\s+"
)
_HEADING_MARK = re.compile(r"^\s*#{1,6}\s+")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){1,3}[a-z]?)\s+(?=\S)")
_REC_PREFIX = re.compile(
    r"^\s*(?:key\s+)?recommendations?\s*(?:(?:no\.?|#)\s*)?(\d{1,3}(?:\.\d{1,3})*[a-z]?|[ivx]{1,5}|[a-z])?\s*[:.\-\u2013)]?\s*",
    re.I,
)
# A heading that is itself an instruction: the items under it are recommendations.
_DIRECTIVE_HEADING = re.compile(
    r"(?i)^(?:do not (?:use|offer|prescribe|give)|avoid|use with caution|(?:use )?(?:is )?not recommended"
    r"|recommended(?: (?:interventions|treatments?|actions))?)\b|\b(?:should|must|are advised to)\s*:?$"
)
_REC_HEADING = re.compile(r"(?i)^(?:key\s+)?recommendations?\s+(?:no\.?\s*|#\s*)?(\d{1,3}(?:\.\d{1,3})*[a-z]?)\s*:?$")
_LABEL_AT_END = re.compile(r"(?:[(\[]\s*([^()\[\]]{1,120}?)\s*[)\]])\s*[.;:]?\s*$")
_INLINE_STRENGTH = re.compile(
    r"(?:strength of (?:the )?recommendation|recommendation strength|grade of recommendation|empfehlungsgrad)\s*[:=]\s*"
    r"([^.;\n]{1,60})",
    re.I,
)
_EXCLUDED_HEADING = re.compile(
    r"(?:^definitions?\s*$|^definitions? (?:and|for|of) (?:the )?(?:grades?|terms|categories|levels|strength|evidence"
    r"|recommendations?|task force)|\bdefinitions? of (?:the )?grades?)"
    r"|\b(?:rating scheme|grading|grades? (?:mean|definitions?)|what the .* grades? mean"
    r"|levels? of (?:certainty|evidence)|strength of (?:the )?(?:recommendations?|evidence)"
    r"|quality of (?:the )?evidence"
    r"|references?|bibliography|abbreviations|acronyms|methods?|methodology|disclaimer|acknowledg(?:e)?ments?"
    r"|conflicts? of interest|disclosures?|funding|key questions?|categories of|evidence tables?"
    r"|literaturverzeichnis|methodik|abkürzungen)\b",
    re.I,
)
_CUE = re.compile(
    r"\b(?:we|i|the (?:\w+ ){0,4}?(?:task force|uspstf|work ?group|panel|committee|guideline|society|college|division"
    r"|department|agency|board|program|cdc|who|nice"
    r"|association|academy|cdc|who|nice|ada|authors?|group))\s+"
    r"(?:strongly\s+|also\s+|now\s+|therefore\s+|continues? to\s+)?"
    r"(?:recommends?|suggests?|advises?|endorses?)\b"
    r"|\b(?:is|are)\s+(?:not\s+)?(?:generally\s+|routinely\s+|strongly\s+|also\s+)?(?:recommended|suggested)\b"
    r"|\bshould\s+(?:not\s+)?(?:be\s+)?(?:offered|considered|prescribed|given|used|screened|tested|treated|performed"
    r"|administered|referred|avoided|initiated|started|discontinued|continued|provided|assessed|evaluated|receive)\b"
    r"|\((?:not|generally not|not generally) recommended\)"
    r"|^(?:offer|consider|do not offer|do not use|do not routinely|avoid|don't offer)\b"
    r"|,\s+(?:consider|offer|do not offer)\s"
    r"|^(?:administer|assess|begin|check|continue|discontinue|document|educate|encourage|evaluate|give|initiate"
    r"|make|monitor|obtain|order|perform|prescribe|provide|refer|reassess|recommend|rule[- ]in|rule[- ]out|screen"
    r"|start|stop|test|treat|use|vaccinate|counsel|advise|ensure|measure|repeat|review|limit|maintain)\b(?! of\b)"
    r"|\b(?:should|must)\s+(?:not\s+)?(?:\w+ly\s+)?(?:be\s+)?[a-z]{3,}|\b(?:should|must)\s*:"
    r"|\b(?:is|are)\s+(?:not\s+)?(?:generally\s+|routinely\s+)?(?:indicated|contraindicated|required|necessary)\b"
    r"|\bmay be (?:considered|offered|used|given|tried)\b|\b(?:is|are) (?:strongly )?encouraged\b"
    r"|\bis the recommendation\b|\bthere is no indication for\b|\b(?:needs?|have|has) to be [a-z]{3,}"
    r"|\b(?:concludes?|found) that the (?:current )?evidence is insufficient\b"
    r"|\bthere is (?:insufficient|inconclusive) evidence to (?:recommend|support|assess)\b"
    r"|\b(?:soll|sollte|kann)\b.*\b(?:werden|erfolgen|durchgeführt|eingesetzt|angeboten)\b",
    re.I,
)
# A cross-reference ("Refer to the original guideline document") or an expectation ("pain
# should decrease", "gains should be evident") reads like an instruction but is not one.
_NOT_A_DIRECTIVE = re.compile(
    r"(?i)^(?:please )?(?:refer to|see) (?:the )?(?:original|ngc|section|table|figure|appendix|annotation|chapter)"
    r"|\bshould (?:\w+ly )?(?:result in|decrease|increase|improve|resolve|respond|be expected|be evident|be mostly)\b"
)
_SENTENCE_END = re.compile(r"[.!?:;)\]\"”]\s*$")


def split_guideline_text(text: str) -> SplitResult:
    """Return the sections and recommendations of a guideline's text.

    Never raises on odd input; text past ``MAX_TEXT_CHARS`` is ignored (bounded time).
    """
    if not text:
        return SplitResult((), ())
    blocks, sections = _blocks(text[:MAX_TEXT_CHARS])
    blocks = [part for block in blocks for part in _split_on_inner_labels(block)]
    for block in blocks:
        _find_label(block)
    labelled = sum(1 for b in blocks if b.label and not b.excluded)
    chosen: list[_Block] = []
    for block in blocks:
        if block.excluded:
            continue
        body = block.text
        if not body or len(body) < 8:
            continue
        if labelled >= 1:
            if block.label or (block.prefixed and _CUE.search(body)):
                chosen.append(block)
        elif _reads_as_recommendation(block, body):
            chosen.append(block)
    recommendations = _recommendations(chosen)
    return SplitResult(tuple(sections), tuple(recommendations))


def guideline_from_text(
    text: str,
    *,
    source: str,
    source_id: str,
    title: str,
    issuer: str = "",
    year: int | None = None,
    url: str = "",
    version: str = "",
) -> ParsedGuideline:
    """Return a guideline with the sections and recommendations split from ``text``.

    A text with no recommendation found keeps its opening in ``summary`` (nothing is lost).
    """
    split = split_guideline_text(text)
    summary = "" if split.recommendations else re.sub(r"\s+", " ", text or "").strip()[:4000]
    return ParsedGuideline(
        source=source,
        source_id=source_id,
        title=title,
        issuer=issuer,
        year=year,
        url=url,
        version=version,
        summary=summary,
        sections=split.sections,
        recommendations=split.recommendations,
    )


def _is_heading_line(line: str, previous_ended: bool) -> bool:
    stripped = line.strip()
    if not stripped or not previous_ended:
        return False
    words = stripped.split()
    if len(stripped) > 140 or len(words) > 16:
        return False
    if len(words) > 12 and sum(w[:1].isupper() for w in words) < 0.6 * len(words):
        return False
    if stripped.endswith((".", ",", ";", "?", "!")) or stripped[0].islower():
        return False
    if re.match(r"(?i)^(?:notes?|nb|remarks?|examples?|caution|important)\b", stripped):
        return False
    if _LABEL_AT_END.search(stripped) and is_strength_label(_LABEL_AT_END.search(stripped).group(1)):  # type: ignore[union-attr]
        return False
    if _REC_PREFIX.match(stripped) and re.match(r"(?i)^\s*recommendation\s+\S", stripped) and stripped.endswith(":"):
        return False
    if stripped.endswith(":") and len(stripped.split()) > 5:
        return False
    if _CUE.search(stripped) and len(stripped.split()) >= 4:
        return False
    letters = [c for c in stripped if c.isalpha()]
    return len(letters) >= 3


def _blocks(text: str) -> tuple[list[_Block], list[str]]:
    blocks: list[_Block] = []
    sections: list[str] = []
    section = ""
    excluded = False
    current: _Block | None = None
    previous_ended = True
    heading_number = ""
    lead = ""
    for raw in _lines(text):
        line = raw.rstrip()
        if not line.strip():
            previous_ended = True
            if current is not None and current.depth < 0:
                current = None  # a blank line ends a plain paragraph
            continue
        heading = None
        if _HEADING_MARK.match(line):
            heading = _HEADING_MARK.sub("", line).strip().rstrip(":").strip()
        bullet = _BULLET.match(line)
        # A label on a line of its own, possibly after a note: "(Carryover from 2008) (Weak For)".
        label_only = _LABEL_AT_END.fullmatch(re.sub(r"^(?:\([^()]{0,160}\)\s*)+(?=[(\[])", "", line.strip()))
        if label_only and is_strength_label(label_only.group(1)) and current is not None:
            current.children.append(line.strip()) if current.children else current.lines.append(line.strip())
            previous_ended = True
            continue
        marked = heading is not None
        if heading is None and (not bullet or bullet.group(2)) and _is_heading_line(line, previous_ended):
            heading = line.strip().rstrip(":").strip()
        if heading is not None:
            numbered_heading = _REC_HEADING.match(heading)
            if numbered_heading:
                heading_number = numbered_heading.group(1)
                current = None
                previous_ended = True
                continue
            heading_number = ""
            lead = heading if _DIRECTIVE_HEADING.search(heading) else ""
            if heading and not (heading.startswith("•") or len(heading) > 200):
                meta = bool(_EXCLUDED_HEADING.search(heading)) and not re.search(
                    r"(?i)^(?:summary of )?(?:key |major )?recommendations?\b(?! (?:grad|strength|categor|definition))",
                    heading,
                )
                # Inside a definitions part, only a marked or numbered heading ends it (table
                # cells of a grade definition look like short headings).
                if meta or not excluded or marked or re.match(r"^(?:\d+(?:\.\d+)*|[A-Z]|[IVX]+)[.)]\s", heading):
                    excluded = meta
                if not excluded or meta:
                    sections.append(heading)
                section = heading
            current = None
            previous_ended = True
            continue
        if bullet:
            depth = len(bullet.group(1).replace("\t", "  ")) // 2
            body = line[bullet.end() :].strip()
            number = (bullet.group(2) or "").strip("().")
            if (
                current is not None
                and not _closed(current)
                and ((current.depth >= 0 and depth > current.depth) or (current.collecting and depth >= current.depth))
            ):
                indent = "  " * max(0, depth - max(current.depth, 0) - (1 if current.depth >= 0 else 0))
                current.children.append(indent + "• " + body)
                previous_ended = bool(_SENTENCE_END.search(body))
                continue
            current = _new_block(body, depth, section, excluded, number)
            current.heading_number = heading_number
            current.lead = lead
            blocks.append(current)
            previous_ended = bool(_SENTENCE_END.search(body))
            continue
        body = line.strip()
        numbered = _NUMBERED.match(body)
        forced = (
            numbered is not None
            or re.match(r"(?i)^\s*(?:key\s+)?recommendations?\s*(?:\d|[:.\-\u2013])", body) is not None
        )
        starts_block = previous_ended and not body[:1].islower()
        if current is not None and not forced and (not starts_block or (current.depth >= 0 and not previous_ended)):
            if current.children:
                current.children[-1] += " " + body
            else:
                current.lines.append(body)
        else:
            number = numbered.group(1) if numbered else ""
            if numbered:
                body = body[numbered.end() :]
            current = _new_block(body, -1, section, excluded, number)
            current.heading_number = heading_number
            current.lead = lead
            blocks.append(current)
        if current is not None and not current.children:
            current.collecting = body.rstrip().endswith(":")
        previous_ended = bool(_SENTENCE_END.search(body))
    return blocks, sections


# A run-in label before the statement: "Outreach - Use outreach workers ...", "Initially: Refer ...".
_RUN_IN = re.compile(r"^[A-Z\"“(][^.:;\u2013\u2014]{0,70}?\s*(?:[\u2013\u2014]|\s-\s|:)\s+(?=[A-Z\"“])")
# Instruction verbs that open a list item ("Ask about ...", "Coordinate care ..."); list items only,
# because in running prose several of them are also nouns ("Test results were ...").
_IMPERATIVE_ITEM = re.compile(
    r"^(?:strongly\s+)?(?:administer|advise|advocate|allow|apply|arrange|ask|assess|assist|assure|avoid|be|begin|build"
    r"|check|choose|collaborate|communicate|confirm|consider|consult|continue|coordinate|counsel|create|defer|determine"
    r"|develop|discontinue|discuss|do|document|educate|elicit|emphasize|encourage|ensure|establish|evaluate|explain"
    r"|explore|express|facilitate|follow|give|help|identify|include|inform|initiate|inquire|instruct|integrate|involve"
    r"|keep|limit|link|listen|look|maintain|make|manage|measure|monitor|network|notify|obtain|offer|order|partner|pay"
    r"|perform|plan|prescribe|promote|protect|provide|realize|reassess|re-assess|recognize|record|reduce|refer"
    r"|reinforce|remind|repeat|request|reserve|review|rule[- ](?:in|out)|schedule|screen|seek|select|specify|start"
    r"|stop|stress|support|tailor|take|teach|tell|test|track|treat|try|use|vaccinate|verify|weigh|work)(?![-'\w])"
    r"(?! of\b)",
    re.I,
)


def _strip_run_in(text: str) -> str:
    match = _RUN_IN.match(text)
    return text[match.end() :] if match else text


def _reads_as_recommendation(block: _Block, body: str) -> bool:
    """Cue mode: does the block's first sentence tell the reader what to do?"""
    if block.label or block.prefixed or block.lead:
        return True
    stripped = _strip_run_in(body)
    sentence = first_sentence(stripped)
    if _NOT_A_DIRECTIVE.search(sentence) or _NOT_A_DIRECTIVE.search(first_sentence(body)):
        return False
    if _CUE.search(first_sentence(body)) or _CUE.search(sentence):
        return True
    is_item = block.depth >= 0 or stripped is not body
    return bool(is_item and _IMPERATIVE_ITEM.match(sentence))


def _lines(text: str) -> list[str]:
    """Split into lines; a line past MAX_LINE_CHARS (text without line breaks) is cut at its
    sentence ends, then hard-wrapped, so nothing is dropped."""
    out: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if len(raw) <= MAX_LINE_CHARS:
            out.append(raw)
            continue
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z\u00c0-\u00de\"“(])", raw):
            out.extend(sentence[i : i + MAX_LINE_CHARS] for i in range(0, len(sentence), MAX_LINE_CHARS))
    return out


def _closed(block: _Block) -> bool:
    """True when the block already ends with its strength label (a list after it is new)."""
    last = block.children[-1] if block.children else (block.lines[-1] if block.lines else "")
    match = _LABEL_AT_END.search(last[-200:])
    return bool(match and is_strength_label(match.group(1)))


def _new_block(body: str, depth: int, section: str, excluded: bool, number: str) -> _Block:
    block = _Block(depth=depth, lines=[], section=section, excluded=excluded, number=number)
    prefix = _REC_PREFIX.match(body)
    if prefix and re.match(r"(?i)^\s*(?:key\s+)?recommendations?\b", body):
        rest = body[prefix.end() :]
        if prefix.group(1):
            block.number = prefix.group(1)
        if rest or prefix.group(1):
            block.prefixed = True
            body = rest
    block.lines.append(body)
    block.collecting = body.rstrip().endswith(":")
    return block


_INNER_LABEL = re.compile(r"[(\[]\s*([^()\[\]]{1,120}?)\s*[)\]]\s*[.;]?\s+(?=[A-Z\u00c0-\u00de])")


def _split_on_inner_labels(block: _Block) -> list[_Block]:
    """Split a paragraph holding several labelled sentences ("... (strong, high). We suggest ...")."""
    if block.children or len(block.lines) > 40:
        return [block]
    text = " ".join(block.lines)
    cuts = [m.end() for m in _INNER_LABEL.finditer(text) if is_strength_label(m.group(1))]
    if not cuts:
        return [block]
    parts, start = [], 0
    for cut in [*cuts, len(text)]:
        piece = text[start:cut].strip()
        if piece:
            parts.append(piece)
        start = cut
    out = []
    for index, piece in enumerate(parts):
        out.append(
            _Block(
                depth=block.depth,
                lines=[piece],
                section=block.section,
                number=block.number if index == 0 else "",
                excluded=block.excluded,
                prefixed=block.prefixed and index == 0,
            )
        )
    return out


def _find_label(block: _Block) -> None:
    text = block.text
    tail = text[-600:]
    # A label may be followed by a note: "(Category IB) (Note: ...)".
    tail = re.sub(r"\s*[(\[](?:note|see|refer|for more)\b[^()\[\]]*[)\]]\s*\.?\s*$", "", tail, flags=re.I)[-200:]
    match = _LABEL_AT_END.search(tail)
    if match and is_strength_label(match.group(1)):
        block.label = match.group(1).strip()
        return
    inline = _INLINE_STRENGTH.search(text)
    if inline:
        block.label = inline.group(0).strip()


def _strip_label(text: str, label: str) -> str:
    if not label:
        return text
    idx = text.rfind(label)
    if idx <= 0:
        return text
    cut = idx
    while cut > 0 and text[cut - 1] in "([ ":
        cut -= 1
    return text[:cut].rstrip(" \n") + _trailing_after(text, idx + len(label))


def _trailing_after(text: str, end: int) -> str:
    rest = text[end:].lstrip(")] .;:")
    return ("\n" + rest) if rest.strip() else ""


def _rating_for(block: _Block, text: str) -> tuple[StrengthRating, str, str]:
    """Return the rating, the grade as printed and the words that gave it."""
    if block.label:
        core = block.label
        inline = _INLINE_STRENGTH.search(core)
        if inline:
            core = inline.group(1)
        label_rating = normalise_strength(core)
        if not label_rating.strength and not label_rating.certainty and block.label != core:
            label_rating = normalise_strength(block.label)
        strength = label_rating.strength
        certainty = label_rating.certainty or certainty_from_text(block.label)
        direction = label_rating.direction
        if not strength:
            # "N/A" labels mark VA/DoD "insufficient evidence" statements; read the sentence.
            from_words = wording_rating(text).strength
            strength = from_words if from_words == Strength.INSUFFICIENT else ""
        if strength == Strength.INSUFFICIENT:
            direction = Direction.UNSTATED
        elif not direction and strength:
            direction = direction_from_text(text) or Direction.FOR
        return StrengthRating(strength, certainty, direction), grade_label(block.label), block.label
    stripped = _strip_run_in(text)
    rating = wording_rating(stripped)
    cue = _CUE.search(text)
    wording = cue.group(0).strip() if cue else ""
    imperative = _IMPERATIVE_ITEM.match(first_sentence(stripped))
    if not rating.strength and imperative:
        against = direction_from_text(stripped) == Direction.AGAINST
        conditional = re.match(r"(?i)consider\b", imperative.group(0))
        rating = StrengthRating(
            Strength.CONDITIONAL if conditional else Strength.STRONG,
            rating.certainty,
            Direction.AGAINST if against else Direction.FOR,
        )
        wording = wording or imperative.group(0)
    if block.lead:
        lead = block.lead
        lead_rating = wording_rating(lead)
        if re.search(r"(?i)\bcaution\b", lead):
            lead_rating = StrengthRating(Strength.CONDITIONAL, rating.certainty, Direction.FOR)
        elif not lead_rating.strength:
            lead_rating = StrengthRating(Strength.STRONG, rating.certainty, Direction.FOR)
        if not cue or not rating.strength or lead_rating.direction == Direction.AGAINST:
            rating, wording = lead_rating, lead
    return rating, "", wording


def _recommendations(blocks: list[_Block]) -> list[ParsedRecommendation]:
    out: list[ParsedRecommendation] = []
    used_anchors: set[str] = set()
    per_heading: dict[str, int] = {}
    for block in blocks:
        if block.heading_number and not block.number:
            per_heading[block.heading_number] = per_heading.get(block.heading_number, 0) + 1
    seen_heading: dict[str, int] = {}
    for position, block in enumerate(blocks, start=1):
        if block.heading_number and not block.number:
            seen_heading[block.heading_number] = seen_heading.get(block.heading_number, 0) + 1
            block.number = block.heading_number
            if per_heading[block.heading_number] > 1:
                block.number += "abcdefghijklmnopqrstuvwxyz"[min(25, seen_heading[block.heading_number] - 1)]
        text = _strip_label(block.text, block.label)
        text = text.strip()[:MAX_RECOMMENDATION_CHARS]
        if not text:
            continue
        rating, grade, wording = _rating_for(block, text)
        number = block.number or str(position)
        anchor = "rec-" + (re.sub(r"[^a-z0-9]+", "-", number.lower()).strip("-") or str(position))
        if anchor in used_anchors:
            anchor = f"{anchor}-{position}"
        used_anchors.add(anchor)
        out.append(
            ParsedRecommendation(
                number=number,
                text=text,
                section=block.section,
                strength=rating.strength,
                certainty=rating.certainty or Certainty.UNSTATED,
                direction=rating.direction,
                grade=grade,
                strength_wording=wording,
                anchor=anchor,
            )
        )
    return out
