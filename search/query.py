"""Parse what the user typed into a LexicalQuery, filters and the text to embed (pure).

Syntax: free words, "quoted phrases", and field filters taken out of the text:
``year:2020-2024`` (also ``year:2020``, ``year:2020-``, ``year:-2010``), ``level:rct`` (a slug of
records.evidence.levels), ``type:"Practice Guideline"``, ``lang:eng``, ``fulltext:yes``.
A filter with a value that does not parse stays in the text as ordinary words and is reported
in ``warnings``; nothing here raises.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from records.evidence.levels import EvidenceLevel
from search import analysis
from search.backends.base import LexicalQuery, SearchFilters
from search.translation import Translation, has_chinese, translate_query
from search.types import SearchRequest

MAX_TERMS = 64
MAX_EMBED_CHARS = 2000
PICO_WEIGHTS = {"population": 1.0, "intervention": 1.5, "comparison": 0.7, "outcome": 1.0}

_TOKEN = re.compile(
    r'(?P<field>[A-Za-z]+):(?:"(?P<fquoted>[^"]*)"|(?P<fvalue>[^\s"]+))'
    r'|"(?P<phrase>[^"]*)"'
    r"|(?P<word>[^\s\"]+)"
)
_YEAR = re.compile(r"^(?P<lo>\d{4})?(?P<dash>-)?(?P<hi>\d{4})?$")
_LEVELS = {level.value for level in EvidenceLevel}
_LEVEL_ALIASES = {"sr": "systematic_review", "review": "narrative_review", "meta": "systematic_review"}
_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n"}


@dataclass(frozen=True)
class ParsedQuery:
    lexical: LexicalQuery
    filters: SearchFilters
    embed_text: str
    warnings: tuple[str, ...] = ()
    # Set when the query held Chinese: what was searched instead (English terms).
    translation: Translation | None = None

    @property
    def highlight_stems(self) -> frozenset[str]:
        stems: set[str] = set()
        for text in (*self.lexical.terms, *self.lexical.phrases):
            stems.update(analysis.query_terms(text))
        return frozenset(stems)


def _year_range(value: str) -> tuple[int | None, int | None] | None:
    m = _YEAR.match(value)
    if not m or not (m["lo"] or m["hi"]):
        return None
    lo = int(m["lo"]) if m["lo"] else None
    hi = int(m["hi"]) if m["hi"] else None
    if not m["dash"]:
        hi = lo
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return lo, hi


def _apply_filter(field: str, value: str, filters: dict[str, object]) -> bool:
    """Put one ``field:value`` into ``filters``; return False when it is not a valid filter."""
    field, clean = field.lower(), value.strip()
    if field == "year":
        years = _year_range(clean)
        if years is None:
            return False
        filters["year_from"], filters["year_to"] = years
        return True
    if field == "level":
        slug = _LEVEL_ALIASES.get(clean.lower(), clean.lower().replace("-", "_"))
        if slug not in _LEVELS:
            return False
        filters["evidence_levels"] = (*filters.get("evidence_levels", ()), slug)  # type: ignore[misc]
        return True
    if field in {"type", "pt"} and clean:
        filters["publication_types"] = (*filters.get("publication_types", ()), clean)  # type: ignore[misc]
        return True
    if field in {"lang", "language"} and clean.isalpha():
        filters["languages"] = (*filters.get("languages", ()), clean.lower())  # type: ignore[misc]
        return True
    if field in {"fulltext", "free"} and clean.lower() in _YES | _NO:
        filters["free_full_text"] = clean.lower() in _YES
        return True
    return False


def _merge_filters(base: SearchFilters, parsed: dict[str, object]) -> SearchFilters:
    values = dataclasses.asdict(base)
    for key, value in parsed.items():
        if isinstance(value, tuple):
            values[key] = tuple(dict.fromkeys((*values[key], *value)))
        else:
            values[key] = value
    return SearchFilters(**values)


def _content_words(text: str) -> list[str]:
    return [w for w in analysis.words(text) if w.lower() not in analysis.STOPWORDS]


def parse_request(request: SearchRequest) -> ParsedQuery:
    """Return the parsed query of a request: lexical terms (with PICO weights), phrases,
    filters (the request's explicit filters plus those typed in the text) and the embed text."""
    found: dict[str, object] = {}
    warnings: list[str] = []
    words: list[str] = []
    phrases: list[str] = []
    free_text: list[str] = []
    translation = None
    if any(has_chinese(getattr(request, part) or "") for part in ("text", *PICO_WEIGHTS)):
        translation = translate_query(request.text or "")
        request = dataclasses.replace(
            request,
            text=translation.text,
            population=translate_query(request.population).text,
            intervention=translate_query(request.intervention).text,
            comparison=translate_query(request.comparison).text,
            outcome=translate_query(request.outcome).text,
        )
    for m in _TOKEN.finditer(request.text or ""):
        if m["field"]:
            value = m["fquoted"] if m["fquoted"] is not None else m["fvalue"]
            if _apply_filter(m["field"], value, found):
                continue
            warnings.append(f"ignored filter {m['field']}:{value}")
            words.extend(_content_words(f"{m['field']} {value}"))
            free_text.append(f"{m['field']} {value}")
        elif m["phrase"] is not None:
            if analysis.words(m["phrase"]):
                phrases.append(m["phrase"].strip())
                free_text.append(m["phrase"])
        else:
            words.extend(_content_words(m["word"]))
            free_text.append(m["word"])
    # Keyed by stem so "trial" and "trials" count once; the first surface form is searched.
    terms: dict[str, tuple[str, float]] = {}
    for word in words:
        terms.setdefault(analysis.stem(word) or word.lower(), (word.lower(), 1.0))
    pico_text: list[str] = []
    for part, weight in PICO_WEIGHTS.items():
        value = getattr(request, part, "") or ""
        for word in _content_words(value):
            key = analysis.stem(word) or word.lower()
            surface, old = terms.get(key, (word.lower(), 0.0))
            terms[key] = (surface, max(old, weight))
        if value.strip():
            pico_text.append(value.strip())
    limited = list(terms.values())[:MAX_TERMS]
    lexical = LexicalQuery(
        terms=tuple(t for t, _ in limited),
        phrases=tuple(dict.fromkeys(phrases))[:8],
        term_weights=tuple(w for _, w in limited),
    )
    embed_text = " ".join([*free_text, *pico_text]).strip()[:MAX_EMBED_CHARS]
    return ParsedQuery(
        lexical=lexical,
        filters=_merge_filters(request.filters, found),
        embed_text=embed_text,
        warnings=tuple(warnings),
        translation=translation,
    )
