"""Chinese queries into English search terms, with a bilingual medical term list (pure).

The records are English and so is the default embedding model, so a query in Chinese finds
nothing lexically and only noise by vector. ``translate_query`` segments each run of Chinese
characters by longest match against ``search/data/zh_en_medical_terms.tsv`` (Simplified
Chinese, tab, English; written for this project) and replaces it with the English terms;
Latin words, numbers and codes in the query (HIV, PD-1, 2) are kept as they are. The English
text is then searched (BM25) and embedded like an English query. Characters no term covers
are dropped and reported, so the page can say what was not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TERMS_FILE = Path(__file__).resolve().parent / "data" / "zh_en_medical_terms.tsv"
# CJK Unified Ideographs and extension A.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# Chinese punctuation splits words (full-width comma, full stop, colon, brackets, quotes...); ASCII
# punctuation stays, so field filters such as year:2015-2020 survive.
_PUNCT = str.maketrans(
    dict.fromkeys(
        "\uff0c\u3002\uff1b\uff1a\u3001\uff01\uff1f\uff08\uff09\u3010\u3011\u300a\u300b\u201c\u201d\u2018\u2019",
        " ",
    )
)


class TermListError(ValueError):
    """The term list file is malformed (line number and reason in the message)."""


@dataclass(frozen=True)
class Translation:
    """A query translated for search: ``text`` is what is searched and embedded."""

    original: str
    text: str
    translated: bool  # the query held Chinese
    matched: tuple[tuple[str, str], ...] = ()  # (Chinese term, English) in query order
    unknown: tuple[str, ...] = ()  # Chinese characters no term covered


def has_chinese(text: str) -> bool:
    """Whether ``text`` holds any Chinese (CJK) character."""
    return bool(_CJK.search(text or ""))


def parse_terms(text: str) -> dict[str, str]:
    """Return {Chinese: English} from the term list's text (``#`` comments, blank lines skipped).

    Raises TermListError naming the line for a line without a tab or without Chinese.
    """
    terms: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise TermListError(f"line {number}: expected 'Chinese<TAB>English', got {line!r}")
        chinese, english = (part.strip() for part in line.split("\t", 1))
        if not chinese or not has_chinese(chinese):
            raise TermListError(f"line {number}: the first column must hold Chinese, got {chinese!r}")
        terms.setdefault(chinese, english)
    return terms


@lru_cache(maxsize=1)
def default_terms() -> dict[str, str]:
    """Return the bundled term list (read once per process)."""
    return parse_terms(TERMS_FILE.read_text(encoding="utf-8"))


def _segment(token: str, terms: dict[str, str], longest: int) -> list[tuple[str, str, str]]:
    """Return the pieces of one token by greedy longest match: ("term", Chinese, English),
    ("latin", text, text) for runs of other characters, ("unknown", character, "")."""
    pieces: list[tuple[str, str, str]] = []
    latin = ""
    i = 0
    while i < len(token):
        for size in range(min(longest, len(token) - i), 0, -1):
            piece = token[i : i + size]
            # A term must start here and hold Chinese (mixed keys like "2型糖尿病" do).
            if piece in terms and has_chinese(piece):
                if latin:
                    pieces.append(("latin", latin, latin))
                    latin = ""
                pieces.append(("term", piece, terms[piece]))
                i += size
                break
        else:
            char = token[i]
            if has_chinese(char):
                if latin:
                    pieces.append(("latin", latin, latin))
                    latin = ""
                pieces.append(("unknown", char, ""))
            else:
                latin += char
            i += 1
    if latin:
        pieces.append(("latin", latin, latin))
    return pieces


def translate_query(text: str, *, terms: dict[str, str] | None = None) -> Translation:
    """Return the query with every Chinese run replaced by the English of its terms.

    A query without Chinese comes back unchanged (``translated`` False). Never raises.
    """
    if not has_chinese(text):
        return Translation(original=text, text=text, translated=False)
    terms = default_terms() if terms is None else terms
    longest = _longest(id(terms), terms)
    out: list[str] = []
    matched: list[tuple[str, str]] = []
    unknown: list[str] = []
    for token in text.translate(_PUNCT).split():
        if not has_chinese(token):
            out.append(token)
            continue
        for kind, source, english in _segment(token, terms, longest):
            if kind == "unknown":
                unknown.append(source)
                continue
            if kind == "term":
                matched.append((source, english))
            if english:
                out.append(english)
    return Translation(
        original=text,
        text=" ".join(out).strip(),
        translated=True,
        matched=tuple(matched),
        unknown=tuple(dict.fromkeys(unknown)),
    )


_LONGEST: dict[int, int] = {}


def _longest(key: int, terms: dict[str, str]) -> int:
    """Return the length of the longest term (cached per term list)."""
    if key not in _LONGEST:
        _LONGEST[key] = max((len(k) for k in terms), default=1)
    return _LONGEST[key]
