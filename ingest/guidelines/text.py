"""HTML to the plain-text line form the recommendation splitter reads.

The line form: a heading is a line starting with ``# ``; a list item is ``•`` indented by two
spaces per nesting level; every other block is a paragraph line. Scripts, styles and comments
are dropped (their text never reaches the output); nothing is executed.
"""

from __future__ import annotations

import re
import unicodedata

import lxml.etree
import lxml.html

_BLOCK = {"p", "div", "tr", "table", "section", "article", "blockquote", "dd", "dt", "pre", "caption", "br"}
_HEADING = {"h1", "h2", "h3", "h4", "h5", "h6"}
_DROP = {"script", "style", "noscript", "template", "head", "iframe", "object", "embed", "svg", "math"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2007\u202f]+")

# Mojibake from UTF-8 read as cp1252 (NGC export): fix only when the text round-trips.
_MOJIBAKE_HINT = re.compile("[\u00c2\u00c3\u00e2][\u0080-\u02ff\u2010-\u203a\u20ac\u2122]")


def fix_mojibake(text: str) -> str:
    """Return ``text`` with UTF-8 read as cp1252/latin-1 repaired (a quote read as three characters).

    Each run of suspicious characters is repaired on its own, so one odd character elsewhere
    does not stop the rest being fixed; a run that does not decode is left as it was.
    """
    if not _MOJIBAKE_HINT.search(text):
        return text

    def repair(match: re.Match[str]) -> str:
        chunk = match.group(0)
        for encoding in ("cp1252", "latin-1"):
            try:
                return chunk.encode(encoding).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
        # cp1252 has no byte for some C1 controls: encode those as latin-1, the rest as cp1252.
        try:
            raw = b"".join(ch.encode("latin-1") if 0x80 <= ord(ch) <= 0x9F else ch.encode("cp1252") for ch in chunk)
            return raw.decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return chunk

    return re.sub(
        "[\u00c2-\u00f4][\u0080-\u00bf\u0152-\u0192\u02c6-\u02dc\u2013-\u203a\u20ac\u2122]{1,3}", repair, text
    )


def clean_inline(text: str) -> str:
    """Collapse whitespace and normalise compatibility characters of one line of text."""
    text = unicodedata.normalize("NFC", fix_mojibake(text))
    return _SPACES.sub(" ", text).strip()


def html_fragment_to_lines(markup: str) -> list[str]:
    """Return the line form of an HTML fragment or document (see the module docstring).

    Raises nothing for odd markup: lxml's HTML parser recovers; an empty input gives [].
    """
    if not markup or not markup.strip():
        return []
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return []
    return element_to_lines(root)


def element_to_lines(root: lxml.etree._Element) -> list[str]:
    """Return the line form of a parsed HTML element tree."""
    lines: list[str] = []
    current: list[str] = []
    prefix = [""]

    def flush() -> None:
        text = clean_inline("".join(current))
        current.clear()
        if text:
            lines.append(prefix[0] + text)
        prefix[0] = ""

    def walk(el: lxml.etree._Element, depth: int) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower().rsplit("}", 1)[-1]
        if not tag or tag in _DROP:
            # Comments, processing instructions and dropped elements: keep only the tail.
            if el.tail:
                current.append(el.tail)
            return
        if tag in _HEADING:
            flush()
            prefix[0] = "# "
        elif tag == "li":
            flush()
            prefix[0] = "  " * depth + "• "
        elif tag in _BLOCK or tag in ("ul", "ol", "td", "th"):
            if tag in ("td", "th"):
                current.append(" ")
            else:
                flush()
        bold_block = tag in ("p", "div") and _is_bold_only(el)
        if bold_block:
            prefix[0] = "# "
        if el.text:
            current.append(el.text)
        child_depth = depth + 1 if tag in ("ul", "ol") else depth
        for child in el:
            walk(child, child_depth)
        if tag in _HEADING or tag == "li" or tag in _BLOCK or tag in ("ul", "ol"):
            flush()
        if el.tail:
            current.append(el.tail)

    walk(root, -1)
    flush()
    return lines


def _is_bold_only(el: lxml.etree._Element) -> bool:
    """True when a paragraph's whole text sits in <strong>/<b> and is short: a run-in heading."""
    text = clean_inline(el.text_content() or "")
    if not text or len(text) > 120 or text.endswith((".", ";", ",")):
        return False
    bold = "".join(
        (b.text_content() or "") for b in el.iter() if isinstance(b.tag, str) and b.tag.lower() in ("strong", "b")
    )
    return clean_inline(bold) == text
