"""Text analysis shared by indexing, querying and highlighting: the same English stemming
chain as tantivy's ``en_stem`` tokenizer, so a query term always matches the indexed term."""

from __future__ import annotations

import re
from functools import lru_cache

import tantivy

# Short English stop list for queries only (documents are indexed whole so phrases still match).
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
    ]
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TOKEN_CHARS = 40


@lru_cache(maxsize=1)
def _analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def analyze(text: str) -> list[str]:
    """Return the stemmed, lower-cased tokens of ``text`` as ``en_stem`` indexes them."""
    return list(_analyzer().analyze(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Return the indexed form of one word ('' when the analyzer drops it)."""
    tokens = analyze(word)
    return tokens[0] if tokens else ""


def query_terms(text: str) -> list[str]:
    """Return distinct stemmed query terms of ``text`` without stop words, in order."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text):
        if word.lower() in STOPWORDS:
            continue
        term = stem(word)
        if term:
            seen.setdefault(term, None)
    return list(seen)


def words(text: str) -> list[str]:
    """Return the raw words of ``text`` (the tokenizer's split, before stemming)."""
    return _WORD.findall(text)
