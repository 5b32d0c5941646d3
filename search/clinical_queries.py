"""PubMed Clinical Queries: the Haynes methodological filters and the systematic review subset.

Each filter is the published PubMed search string written as a small boolean tree over the
fields PubMed searches (title/abstract words, text words, MeSH descriptors, subheadings,
publication types, journal), and evaluated once per record at indexing. The record's matching
filter keys are stored as ``cq:<key>`` tags of its index document, so every backend filters on
them inside retrieval like any other tag.

Sources (docs/search.md cites them too):

- PubMed Help, "Clinical Queries filters" table (NLM; the strings PubMed appends for each
  category and scope), based on Haynes RB et al., BMJ 2005;330:1179 (therapy), Haynes RB,
  Wilczynski NL, BMJ 2004;328:1040 (diagnosis), Wilczynski NL, Haynes RB, BMC Med 2004;2:23
  (prognosis), Wilczynski NL, Haynes RB, Medinfo 2003 (etiology), Wong SS et al., Medinfo 2004
  (clinical prediction guides).
- PubMed Help, "Systematic Reviews" subset (systematic[sb], definition of December 2018).

Differences from PubMed, forced by what a record holds (documented in docs/search.md):
``[MeSH Terms]`` explodes only through the narrower descriptors listed in ``NARROWER`` (the
records carry no MeSH tree); ``[Text Word]`` reads title, abstract, MeSH descriptors,
subheadings, publication types and keywords; ``NOT MEDLINE[subset]`` is read as "the record
carries no MeSH headings" (not yet indexed for MEDLINE).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Protocol

QUESTIONS = ("therapy", "diagnosis", "prognosis", "etiology", "clinical_prediction")
SCOPES = ("broad", "narrow")
SYSTEMATIC_REVIEWS = "systematic_reviews"
# The value of ``question`` that selects the systematic review subset (it has no scope).
QUESTION_CHOICES = (*QUESTIONS, SYSTEMATIC_REVIEWS)
TAG_PREFIX = "cq:"

_WORD = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


def _norm(text: str) -> str:
    return " ".join(_tokens(text))


class Clause(Protocol):
    def matches(self, record: RecordFields) -> bool: ...


@dataclass(frozen=True)
class RecordFields:
    """What the filters read of a record, normalised (lower-case words, one space)."""

    title: tuple[str, ...]
    abstract: tuple[str, ...]
    mesh: frozenset[str]  # descriptors
    subheadings: frozenset[str]  # qualifiers of any descriptor
    publication_types: frozenset[str]
    keywords: tuple[tuple[str, ...], ...]
    journal: str  # journal abbreviation (PubMed's [ta])
    medline: bool  # indexed for MEDLINE (has MeSH headings)

    @classmethod
    def build(
        cls,
        *,
        title: str,
        abstract: str,
        mesh_headings: Sequence[Mapping[str, object]] = (),
        publication_types: Iterable[str] = (),
        keywords: Iterable[str] = (),
        journal: str = "",
    ) -> RecordFields:
        """Return the fields of a record given as plain values (``mesh_headings`` as stored on
        EvidenceRecord: ``{"descriptor", "qualifiers": [[name, major], ...]}``)."""
        descriptors: set[str] = set()
        qualifiers: set[str] = set()
        for heading in mesh_headings:
            descriptors.add(_norm(str(heading.get("descriptor", ""))))
            for qualifier in heading.get("qualifiers") or ():  # type: ignore[attr-defined]
                name = qualifier[0] if isinstance(qualifier, list | tuple) else qualifier
                qualifiers.add(_norm(str(name)))
        descriptors.discard("")
        return cls(
            title=_tokens(title),
            abstract=_tokens(abstract),
            mesh=frozenset(descriptors),
            subheadings=frozenset(qualifiers),
            publication_types=frozenset(_norm(t) for t in publication_types),
            keywords=tuple(_tokens(k) for k in keywords),
            journal=_norm(journal),
            medline=bool(descriptors),
        )

    @cached_property
    def vocabulary(self) -> dict[str, list[str]]:
        """Return the sorted distinct words per field group (``ti``, ``tiab``, ``tw``): single-word
        terms are looked up here instead of scanning the text (a record is tested ~60 times)."""
        title = set(self.title)
        tiab = title | set(self.abstract)
        tw = tiab.union(*self.text_words())
        return {"ti": sorted(title), "tiab": sorted(tiab), "tw": sorted(tw)}

    def has_word(self, field: str, word: str) -> bool:
        """Whether the field group holds ``word`` (a trailing ``*`` matches any word it begins)."""
        words = self.vocabulary[field]
        stem = word.rstrip("*")
        at = bisect.bisect_left(words, stem)
        if at >= len(words):
            return False
        return words[at].startswith(stem) if word.endswith("*") else words[at] == stem

    def text_words(self) -> tuple[tuple[str, ...], ...]:
        """Return the word sequences PubMed's [Text Word] searches."""
        return (
            self.title,
            self.abstract,
            *(tuple(m.split()) for m in self.mesh),
            *(tuple(s.split()) for s in self.subheadings),
            *(tuple(p.split()) for p in self.publication_types),
            *self.keywords,
        )


def _has_phrase(words: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether ``pattern`` (words; a trailing ``*`` on a word truncates it) occurs in ``words``."""
    n = len(pattern)
    for start in range(len(words) - n + 1):
        for offset, want in enumerate(pattern):
            got = words[start + offset]
            if want.endswith("*"):
                if not got.startswith(want[:-1]):
                    break
            elif got != want:
                break
        else:
            return True
    return False


@lru_cache(maxsize=256)
def _pattern(text: str) -> tuple[str, ...]:
    """Return the words of a search term, lower-case, keeping a trailing ``*`` (truncation)."""
    parts = [(_norm(part), part.endswith("*")) for part in text.lower().split()]
    return tuple(word + ("*" if star else "") for word, star in parts if word)


@dataclass(frozen=True)
class Words:
    """``term[tiab]`` / ``term[ti]`` / ``term[tw]``: a word or phrase (``*`` truncates)."""

    text: str
    field: str = "tiab"  # tiab | ti | tw

    def matches(self, record: RecordFields) -> bool:
        pattern = _pattern(self.text.lower())
        if len(pattern) == 1:
            return record.has_word(self.field, pattern[0])
        if not all(record.has_word(self.field, w) for w in pattern):
            return False
        if self.field == "ti":
            sources: Iterable[tuple[str, ...]] = (record.title,)
        elif self.field == "tiab":
            sources = (record.title, record.abstract)
        else:
            sources = record.text_words()
        return any(_has_phrase(words, pattern) for words in sources)


# Narrower descriptors of the exploded [MeSH Terms] the filters use (MeSH 2024 tree).
NARROWER: dict[str, tuple[str, ...]] = {
    "clinical trials as topic": (
        "clinical trials phase i as topic",
        "clinical trials phase ii as topic",
        "clinical trials phase iii as topic",
        "clinical trials phase iv as topic",
        "controlled clinical trials as topic",
        "randomized controlled trials as topic",
        "pragmatic clinical trials as topic",
        "equivalence trials as topic",
        "multicenter studies as topic",
        "clinical trials data monitoring committees",
        "adaptive clinical trials as topic",
        "non randomized controlled trials as topic",
    ),
    "sensitivity and specificity": (
        "predictive value of tests",
        "roc curve",
        "false negative reactions",
        "false positive reactions",
    ),
    "cohort studies": ("longitudinal studies", "follow up studies", "prospective studies", "retrospective studies"),
    "mortality": (
        "mortality",
        "cause of death",
        "child mortality",
        "infant mortality",
        "perinatal mortality",
        "maternal mortality",
        "hospital mortality",
        "mortality premature",
        "survival rate",
        "fatal outcome",
        "premature mortality",
    ),
    "random allocation": (),
    "predictive value of tests": (),
    "observer variation": (),
}


@dataclass(frozen=True)
class Mesh:
    """``term[MeSH Terms]`` (exploded) or ``term[MeSH:noexp]``; ``*`` truncates a noexp term."""

    term: str
    explode: bool = True

    def matches(self, record: RecordFields) -> bool:
        term = _norm(self.term.rstrip("*")) + (" " if self.term.endswith(" *") else "")
        if self.term.endswith("*"):
            return any(m.startswith(term) for m in record.mesh)
        if term in record.mesh:
            return True
        return self.explode and any(n in record.mesh for n in NARROWER.get(term, ()))


@dataclass(frozen=True)
class Subheading:
    """``term[Subheading]`` / ``term[MeSH Subheading]``: a qualifier on any descriptor."""

    term: str

    def matches(self, record: RecordFields) -> bool:
        return _norm(self.term) in record.subheadings


@dataclass(frozen=True)
class PubType:
    """``term[Publication Type]``."""

    term: str

    def matches(self, record: RecordFields) -> bool:
        return _norm(self.term) in record.publication_types


@dataclass(frozen=True)
class Journal:
    """``abbreviation[ta]``."""

    abbreviation: str

    def matches(self, record: RecordFields) -> bool:
        return record.journal == _norm(self.abbreviation)


@dataclass(frozen=True)
class NotMedline:
    """``NOT MEDLINE[subset]``: the record is not (yet) indexed with MeSH."""

    def matches(self, record: RecordFields) -> bool:
        return not record.medline


@dataclass(frozen=True)
class AnyOf:
    clauses: tuple[Clause, ...]

    def matches(self, record: RecordFields) -> bool:
        return any(c.matches(record) for c in self.clauses)


@dataclass(frozen=True)
class AllOf:
    clauses: tuple[Clause, ...]

    def matches(self, record: RecordFields) -> bool:
        return all(c.matches(record) for c in self.clauses)


@dataclass(frozen=True)
class Without:
    """``a NOT b``."""

    keep: Clause
    drop: Clause

    def matches(self, record: RecordFields) -> bool:
        return self.keep.matches(record) and not self.drop.matches(record)


def _any(*clauses: Clause) -> AnyOf:
    return AnyOf(tuple(clauses))


def _all(*clauses: Clause) -> AllOf:
    return AllOf(tuple(clauses))


def _tiab(*terms: str) -> tuple[Words, ...]:
    return tuple(Words(t, "tiab") for t in terms)


_SR_TITLES = (
    "systematic review",
    "systematic literature review",
    "systematic scoping review",
    "systematic narrative review",
    "systematic qualitative review",
    "systematic evidence review",
    "systematic quantitative review",
    "systematic meta review",
    "systematic critical review",
    "systematic mixed studies review",
    "systematic mapping review",
    "systematic cochrane review",
    "systematic search and review",
    "systematic integrative review",
)

# The published strings, clause for clause (PubMed Help, "Clinical Queries filters").
FILTERS: dict[str, Clause] = {
    # (clinical[tiab] AND trial[tiab]) OR clinical trials as topic[mh] OR clinical trial[pt]
    # OR random*[tiab] OR random allocation[mh] OR therapeutic use[sh]
    "therapy_broad": _any(
        _all(*_tiab("clinical", "trial")),
        Mesh("clinical trials as topic"),
        PubType("clinical trial"),
        Words("random*"),
        Mesh("random allocation"),
        Subheading("therapeutic use"),
    ),
    # randomized controlled trial[pt] OR (randomized[tiab] AND controlled[tiab] AND trial[tiab])
    "therapy_narrow": _any(
        PubType("randomized controlled trial"),
        _all(*_tiab("randomized", "controlled", "trial")),
    ),
    # sensitiv*[tiab] OR sensitivity and specificity[mh] OR diagnose[tiab] OR diagnosed[tiab]
    # OR diagnoses[tiab] OR diagnosing[tiab] OR diagnosis[tiab] OR diagnostic[tiab]
    # OR diagnosis[MeSH:noexp] OR diagnostic *[MeSH:noexp] OR diagnosis, differential[MeSH:noexp]
    # OR diagnosis[Subheading:noexp]
    "diagnosis_broad": _any(
        Words("sensitiv*"),
        Mesh("sensitivity and specificity"),
        *_tiab("diagnose", "diagnosed", "diagnoses", "diagnosing", "diagnosis", "diagnostic"),
        Mesh("diagnosis", explode=False),
        Mesh("diagnostic *", explode=False),
        Mesh("diagnosis, differential", explode=False),
        Subheading("diagnosis"),
    ),
    # specificity[tiab]
    "diagnosis_narrow": Words("specificity"),
    # incidence[MeSH:noexp] OR mortality[mh] OR follow up studies[MeSH:noexp] OR prognos*[tw]
    # OR predict*[tw] OR course*[tw]
    "prognosis_broad": _any(
        Mesh("incidence", explode=False),
        Mesh("mortality"),
        Mesh("follow up studies", explode=False),
        Words("prognos*", "tw"),
        Words("predict*", "tw"),
        Words("course*", "tw"),
    ),
    # prognos*[tiab] OR (first[tiab] AND episode[tiab]) OR cohort[tiab]
    "prognosis_narrow": _any(Words("prognos*"), _all(*_tiab("first", "episode")), Words("cohort")),
    # risk*[tiab] OR risk*[MeSH:noexp] OR risk *[MeSH:noexp] OR cohort studies[mh]
    # OR group[tw] OR groups[tw] OR grouped[tw]
    "etiology_broad": _any(
        Words("risk*"),
        Mesh("risk*", explode=False),
        Mesh("risk *", explode=False),
        Mesh("cohort studies"),
        Words("group", "tw"),
        Words("groups", "tw"),
        Words("grouped", "tw"),
    ),
    # (relative[tiab] AND risk*[tiab]) OR relative risk[tw] OR risks[tw]
    # OR cohort studies[MeSH:noexp] OR (cohort[tiab] AND study[tiab]) OR (cohort[tiab] AND studies[tiab])
    "etiology_narrow": _any(
        _all(*_tiab("relative", "risk*")),
        Words("relative risk", "tw"),
        Words("risks", "tw"),
        Mesh("cohort studies", explode=False),
        _all(*_tiab("cohort", "study")),
        _all(*_tiab("cohort", "studies")),
    ),
    # predict*[tiab] OR predictive value of tests[mh] OR score[tiab] OR scores[tiab]
    # OR scoring system[tiab] OR scoring systems[tiab] OR observ*[tiab] OR observer variation[mh]
    "clinical_prediction_broad": _any(
        Words("predict*"),
        Mesh("predictive value of tests"),
        *_tiab("score", "scores", "scoring system", "scoring systems", "observ*"),
        Mesh("observer variation"),
    ),
    # validation[tiab] OR validate[tiab]
    "clinical_prediction_narrow": _any(*_tiab("validation", "validate")),
    # ((systematic review[ti] OR ... [ti]) NOT comment[pt] NOT (protocol[ti] OR protocols[ti]))
    # NOT MEDLINE[subset] OR (Cochrane Database Syst Rev[ta] AND review[pt]) OR systematic review[pt]
    "systematic_review": _any(
        _all(
            Without(
                Without(_any(*(Words(t, "ti") for t in _SR_TITLES)), PubType("comment")),
                _any(Words("protocol", "ti"), Words("protocols", "ti")),
            ),
            NotMedline(),
        ),
        _all(Journal("Cochrane Database Syst Rev"), PubType("review")),
        PubType("systematic review"),
    ),
}


def filter_key(question: str, scope: str = "broad") -> str:
    """Return the filter key of a question type and scope (``therapy``, ``narrow`` ->
    ``therapy_narrow``; the systematic review subset has no scope).

    Raises ValueError for an unknown question or scope.
    """
    if question == SYSTEMATIC_REVIEWS:
        return "systematic_review"
    if question not in QUESTIONS:
        raise ValueError(f"question must be one of {', '.join(QUESTION_CHOICES)}, not {question!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return f"{question}_{scope}"


def tag_of(key: str) -> str:
    """Return the index tag that marks a record matching filter ``key``."""
    return f"{TAG_PREFIX}{key}"


def matching_filters(record: RecordFields) -> list[str]:
    """Return the keys of every filter the record matches, in ``FILTERS`` order."""
    return [key for key, clause in FILTERS.items() if clause.matches(record)]
