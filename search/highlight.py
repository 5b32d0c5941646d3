"""HTML-escaped titles and snippets with matched words wrapped in <mark> (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from search import analysis

SNIPPET_CHARS = 300
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FIRST = ("CONCLUSIONS", "CONCLUSION")


def mark(text: str, stems: Iterable[str]) -> str:
    """Return ``text`` HTML-escaped, words whose stem is in ``stems`` wrapped in <mark>."""
    wanted = set(stems)
    if not wanted:
        return escape(text)
    out: list[str] = []
    pos = 0
    for m in _WORD.finditer(text):
        word = m.group(0)
        if analysis.stem(word) in wanted:
            # Escaping is per character, so the text between marks is escaped in one piece.
            out.append(escape(text[pos : m.start()]))
            out.append(f"<mark>{escape(word)}</mark>")
            pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def ordered_abstract(sections: Sequence[Mapping[str, str]], abstract: str) -> str:
    """Return the abstract text with conclusions first when the abstract is structured."""
    if not sections:
        return abstract
    first = [s for s in sections if str(s.get("category", "")).upper() in _FIRST]
    rest = [s for s in sections if s not in first]
    return " ".join(str(s.get("text", "")).strip() for s in (*first, *rest) if s.get("text"))


def snippet(text: str, stems: Iterable[str], *, length: int = SNIPPET_CHARS) -> str:
    """Return an escaped, highlighted window of ``text`` (from the start, or around the first
    matched word when that is later), with an ellipsis where text was cut."""
    wanted = set(stems)
    start = 0
    if len(text) > length and wanted:
        for m in _WORD.finditer(text):
            if analysis.stem(m.group(0)) in wanted:
                if m.start() > length // 2:
                    start = text.rfind(" ", 0, max(0, m.start() - length // 4)) + 1
                break
    end = start + length
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    body = mark(text[start:end], wanted)
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")
