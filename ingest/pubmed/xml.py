"""Streaming parser for PubMed XML: efetch ``PubmedArticleSet`` and baseline ``MedlineCitationSet``.

Memory stays flat: elements are parsed with ``iterparse`` and removed from the tree as soon as a
citation has been read. Concatenated documents (old PubMed "Send to file" output, several
``<?xml?>`` prologues or bare ``<PubmedArticle>`` elements one after another) are read as one.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from datetime import date
from itertools import chain
from typing import Any, BinaryIO

from lxml import etree

from ingest.pubmed.compressed import READ_ERRORS
from ingest.pubmed.dates import parse_date_parts, parse_date_text
from ingest.pubmed.normalize import (
    clean_text,
    normalise_doi,
    normalise_pmcid,
    publication_type_name,
    size_checked,
    unique,
)
from records.types import AbstractSection, DeletedCitation, MeshHeading, ParsedItem, ParsedRecord, ParseProblem

SOURCE = "pubmed"
_ROOT = b"_pubmed_stream_root"
_CHUNK = 64 * 1024
_ARTICLE_TAGS = {"PubmedArticle", "PubmedBookArticle"}
_KNOWN_CONTAINERS = {
    "PubmedArticleSet",
    "MedlineCitationSet",
    "PubmedArticle",
    "PubmedBookArticle",
    "MedlineCitation",
    "DeleteCitation",
}
# XML declarations and DOCTYPEs (with an internal subset) anywhere in the stream.
_PROLOGUE = re.compile(rb"<\?xml[^>]*\?>|<!DOCTYPE[^>\[]*(?:\[[^\]]*\])?\s*>", re.IGNORECASE)
_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_BOM = b"\xef\xbb\xbf"
# The works a record cites (PubmedData/ReferenceList, possibly nested) are never read and make up
# about 40% of the bytes of a typical file, so they are cut out before lxml builds them.
_REFERENCE_LIST = b"ReferenceList"
_NAME_ENDS = frozenset(b" \t\r\n/>")
_DOC_TYPES_THAT_RETRACT = {"Retracted Publication"}


class _JoinedDocuments:
    """A ``read()``-able view of an XML byte stream as ONE document.

    Drops the BOM, every ``<?xml?>``/``<!DOCTYPE>`` and every ``<ReferenceList>`` (keeping their
    newlines, so error line numbers stay true), re-encodes a declared non-UTF-8 encoding to
    UTF-8, and wraps everything in one synthetic root element, so concatenated documents parse
    as siblings.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pending = b"<" + _ROOT + b">"
        self._carry = b""
        self._started = False
        self._done = False
        self._decoder: codecs.IncrementalDecoder | None = None
        self._reference_depth = 0  # > 0 inside a ReferenceList being dropped

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._pending) < size):
            self._fill()
        if size < 0:
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def _fill(self) -> None:
        chunk = self._stream.read(_CHUNK)
        if not chunk:
            tail = self._carry
            if self._decoder is not None:
                tail += self._decoder.decode(b"", final=True).encode("utf-8")
            self._pending += self._without_references(_without_prologues(tail)) + b"</" + _ROOT + b">"
            self._carry = b""
            self._done = True
            return
        if not self._started:
            self._started = True
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
            declared = _ENCODING.search(chunk[:200])
            encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
            if codecs.lookup(encoding).name not in {"utf-8", "ascii"}:
                self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        if self._decoder is not None:
            chunk = self._decoder.decode(chunk).encode("utf-8")
        buffer = self._carry + chunk
        # Hold back a tag cut by the chunk boundary (a declaration or a ReferenceList tag may be).
        cut = buffer.rfind(b"<")
        if cut != -1 and b">" not in buffer[cut:]:
            buffer, self._carry = buffer[:cut], buffer[cut:]
        else:
            self._carry = b""
        self._pending += self._without_references(_without_prologues(buffer))

    def _without_references(self, buffer: bytes) -> bytes:
        """Return ``buffer`` with each ReferenceList element (and the rest of one left open by
        the previous buffer) replaced by its newlines. ``buffer`` ends between tags."""
        if not self._reference_depth and b"<" + _REFERENCE_LIST not in buffer:
            return buffer
        pieces = []
        start = 0  # where the stretch being kept (depth 0) or dropped begins
        at = buffer.find(_REFERENCE_LIST)
        while at != -1:
            closing = buffer[at - 2 : at] == b"</"
            opening = not closing and buffer[at - 1 : at] == b"<"
            end = buffer.find(b">", at)
            after = at + len(_REFERENCE_LIST)
            if (opening or closing) and end != -1 and after < len(buffer) and buffer[after] in _NAME_ENDS:
                if buffer[end - 1 : end] == b"/":
                    pass  # <ReferenceList/>: dropped with the list around it, else harmless
                elif not self._reference_depth and opening:
                    pieces.append(buffer[start : at - 1])
                    start = at - 1
                    self._reference_depth = 1
                elif self._reference_depth:
                    self._reference_depth += -1 if closing else 1
                    if not self._reference_depth:
                        pieces.append(b"\n" * buffer.count(b"\n", start, end + 1))
                        start = end + 1
                # A stray end tag outside a list is kept for the parser to report.
            at = buffer.find(_REFERENCE_LIST, after)
        rest = buffer[start:]
        pieces.append(b"\n" * rest.count(b"\n") if self._reference_depth else rest)
        return b"".join(pieces)


def _without_prologues(buffer: bytes) -> bytes:
    # Looking for "?" and "!" (rare in PubMed XML) first saves trying the pattern at every "<".
    if not (_follows_lt(buffer, b"?") or _follows_lt(buffer, b"!")):
        return buffer
    return _PROLOGUE.sub(_newlines, buffer)


def _follows_lt(buffer: bytes, mark: bytes) -> bool:
    at = buffer.find(mark, 1)
    while at != -1:
        if buffer[at - 1] == 0x3C:  # "<"
            return True
        at = buffer.find(mark, at + 1)
    return False


def _newlines(match: re.Match[bytes]) -> bytes:
    return b"\n" * match.group(0).count(b"\n")


def parse_pubmed_xml(stream: BinaryIO, *, location: str) -> Iterator[ParsedItem]:
    """Yield a ParsedRecord per citation, a DeletedCitation per ``<DeleteCitation>`` PMID, and
    a ParseProblem per unusable record; never raises.

    Malformed XML or a stream that breaks (truncated gzip) yields the records before the break
    and then one ParseProblem for ``location``; the citation being read at the break is dropped.
    """
    index = 0
    context = etree.iterparse(
        _JoinedDocuments(stream),
        events=("end",),
        tag=(*_ARTICLE_TAGS, "MedlineCitation", "DeleteCitation"),
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        for _event, elem in context:
            parent = elem.getparent()
            if elem.tag == "DeleteCitation":
                for pmid in elem.iter("PMID"):
                    if clean_text(pmid.text):
                        yield DeletedCitation(source=SOURCE, source_id=clean_text(pmid.text))
            elif elem.tag == "MedlineCitation" and parent is not None and parent.tag in _ARTICLE_TAGS:
                continue  # read with its PubmedArticle (which holds the PubmedData ids)
            else:
                index += 1
                yield record_from_element(elem, location=f"{location}: record {index}")
            # Keep memory flat: drop what was read, and the emptied siblings before it.
            elem.clear(keep_tail=False)
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as error:
        line, column = error.position
        yield ParseProblem(
            location=location,
            reason=f"malformed XML at line {line}, column {column}: {error.msg}; "
            f"{index} record(s) before it were read, the rest of the file was skipped",
        )
        return
    except READ_ERRORS as error:
        yield ParseProblem(
            location=location,
            reason=f"file is truncated or unreadable ({error}); {index} record(s) before the break were read",
        )
        return
    except LookupError as error:  # an <?xml encoding="..."?> Python does not know
        yield ParseProblem(
            location=location,
            reason=f"the XML declares an encoding that does not exist ({error}); "
            f"{index} record(s) before it were read, the rest of the file was skipped",
        )
        return
    if index == 0:
        root = context.root
        first = root[0].tag if root is not None and len(root) else None
        if first not in _KNOWN_CONTAINERS and not (first is None and _only_whitespace(root)):
            yield ParseProblem(
                location=location,
                reason=f"no PubMed records in it (first element <{first}>, not PubmedArticleSet/MedlineCitationSet)"
                if first
                else "no PubMed records in it (no XML elements)",
            )


def _only_whitespace(root: Any) -> bool:
    return root is None or not clean_text(root.text)


def record_from_element(elem: Any, *, location: str) -> ParsedRecord | ParseProblem:
    """Return the ParsedRecord of a ``PubmedArticle``, ``PubmedBookArticle`` or bare ``MedlineCitation``.

    Returns a ParseProblem (never raises) when it has no PMID or no title.
    """
    if elem.tag == "PubmedBookArticle":
        citation = elem.find("BookDocument")
        pubmed_data = elem.find("PubmedBookData")
    elif elem.tag == "PubmedArticle":
        citation = elem.find("MedlineCitation")
        pubmed_data = elem.find("PubmedData")
    else:
        citation, pubmed_data = elem, None
    if citation is None:
        return ParseProblem(location=location, reason=f"<{elem.tag}> has no MedlineCitation/BookDocument; skipped")
    # The children of the citation and of its Article, read once: a find() per field costs as
    # much as reading the field.
    cited = _children_by_tag(citation)
    pmid_elem = _first(cited, "PMID")
    pmid = clean_text(pmid_elem.text) if pmid_elem is not None else ""
    if not pmid:
        return ParseProblem(location=location, reason="record has no PMID; skipped")
    article = _first(cited, "Article")
    # BookDocument keeps ArticleTitle, Abstract, AuthorList at its own level.
    fields = cited if article is None else _children_by_tag(article)
    book = _first(cited, "Book")
    title = _text(_first(fields, "ArticleTitle")) or _text(_first(fields, "VernacularTitle"))
    if not title and book is not None:
        title = _text(book.find("BookTitle"))
    if not title:
        return ParseProblem(
            location=location,
            source_id=pmid,
            reason=f"PMID {pmid} has no title (ArticleTitle/VernacularTitle/BookTitle); skipped",
        )
    journal = _first(fields, "Journal")
    date, date_raw = _publication_date(fields, journal, book)
    publication_types = unique(
        [publication_type_name(_text(pt)) for pt in _grandchildren(fields, "PublicationTypeList", "PublicationType")]
    )
    publication_types += tuple(
        name
        for name in unique([publication_type_name(_text(pt)) for pt in cited.get("PublicationType", ())])
        if name not in publication_types
    )
    comments, ref_types = _comments_corrections(cited)
    version_text = pmid_elem.get("Version", "1")
    id_list = _article_ids(pubmed_data, cited)
    record = ParsedRecord(
        source=SOURCE,
        source_id=pmid,
        title=title,
        abstract_sections=_abstract(fields, cited),
        journal=_text(journal.find("Title"))
        if journal is not None
        else (_text(book.find("BookTitle")) if book is not None else ""),
        journal_abbreviation=_journal_abbreviation(journal, cited),
        publication_date=date,
        publication_date_raw=date_raw,
        authors=_authors(fields, book),
        doi=id_list.get("doi") or _elocation_doi(fields),
        pmcid=id_list.get("pmc") or _other_pmcid(cited),
        languages=unique([_text(lang).lower() for lang in fields.get("Language", ())]),
        publication_types=publication_types,
        mesh_headings=_mesh(cited),
        keywords=unique([_text(kw) for kw in _grandchildren(cited, "KeywordList", "Keyword")]),
        publication_status=citation.get("Status", ""),
        retracted="RetractionIn" in ref_types or bool(_DOC_TYPES_THAT_RETRACT & set(publication_types)),
        retraction_notice="RetractionOf" in ref_types or "Retraction of Publication" in publication_types,
        has_erratum="ErratumIn" in ref_types,
        comments_corrections=comments,
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        source_version=int(version_text) if version_text.isdigit() and int(version_text) > 0 else 1,
    )
    return size_checked(record, location=location)


Children = dict[str, list[Any]]


def _children_by_tag(elem: Any) -> Children:
    """Return the child elements of ``elem`` by tag, in document order (one pass over them)."""
    children: Children = {}
    for child in elem:
        found = children.get(child.tag)
        if found is None:
            children[child.tag] = [child]
        else:
            found.append(child)
    return children


def _first(children: Children, tag: str) -> Any:
    found = children.get(tag)
    return found[0] if found else None


def _grandchildren(children: Children, parent_tag: str, tag: str) -> Iterator[Any]:
    """Yield the ``tag`` children of every ``parent_tag`` child (the path ``parent_tag/tag``)."""
    for parent in children.get(parent_tag, ()):
        for child in parent:
            if child.tag == tag:
                yield child


def _text(elem: Any) -> str:
    """Return the element's text with inline markup (<i>, <sup>, <b>...) flattened."""
    if elem is None:
        return ""
    if len(elem):
        return " ".join("".join(elem.itertext()).split())
    text = elem.text
    return " ".join(text.split()) if text else ""


def _abstract(fields: Children, cited: Children) -> tuple[AbstractSection, ...]:
    abstract = _first(fields, "Abstract")
    if abstract is None:
        # No English abstract from the publisher: use an English OtherAbstract when there is one.
        for other in cited.get("OtherAbstract", ()):
            if other.get("Language", "eng") == "eng":
                abstract = other
                break
    if abstract is None:
        return ()
    sections = []
    for part in abstract:
        if part.tag != "AbstractText":
            continue
        text = _text(part)
        if text:
            sections.append(
                AbstractSection(text=text, label=part.get("Label", ""), category=part.get("NlmCategory", ""))
            )
    return tuple(sections)


def _journal_abbreviation(journal: Any, cited: Children) -> str:
    abbreviation = _text(journal.find("ISOAbbreviation")) if journal is not None else ""
    return abbreviation or _text(next(_grandchildren(cited, "MedlineJournalInfo", "MedlineTA"), None))


def _publication_date(fields: Children, journal: Any, book: Any) -> tuple[date | None, str]:
    pub_date = None
    if journal is not None:
        pub_date = journal.find("JournalIssue/PubDate")
    if pub_date is None and book is not None:
        pub_date = book.find("PubDate")
    if pub_date is None:
        pub_date = _first(fields, "PubDate")
    if pub_date is not None:
        date_parts = _children_by_tag(pub_date)
        medline_date = _text(_first(date_parts, "MedlineDate"))
        if medline_date:
            return parse_date_text(medline_date), medline_date
        parts = [_text(_first(date_parts, name)) for name in ("Year", "Month", "Day", "Season")]
        if parts[0]:
            return parse_date_parts(*parts), " ".join(part for part in parts if part)
    article_date = _first(fields, "ArticleDate")
    if article_date is not None:
        date_parts = _children_by_tag(article_date)
        parts = [_text(_first(date_parts, name)) for name in ("Year", "Month", "Day")]
        if parts[0]:
            return parse_date_parts(*parts), " ".join(part for part in parts if part)
    return None, ""


def _authors(fields: Children, book: Any) -> tuple[str, ...]:
    author_list = _first(fields, "AuthorList")
    if author_list is None and book is not None:
        author_list = book.find("AuthorList")
    if author_list is None:
        return ()
    names = []
    for author in author_list:
        if author.tag != "Author" or author.get("ValidYN", "Y") == "N":
            continue
        parts = _children_by_tag(author)
        last = _text(_first(parts, "LastName"))
        if last:
            initials = _text(_first(parts, "Initials"))
            if not initials:
                fore = _text(_first(parts, "ForeName"))
                initials = "".join(word[0] for word in fore.replace("-", " ").split() if word)
            names.append(f"{last} {initials}".strip())
        else:
            collective = _text(_first(parts, "CollectiveName"))
            if collective:
                names.append(collective)
    return unique(names)


def _article_ids(pubmed_data: Any, cited: Children) -> dict[str, str]:
    ids: dict[str, str] = {}
    # Only the record's own ArticleIdList: ReferenceList entries carry ArticleIdLists of cited works.
    own_ids = pubmed_data.iterfind("ArticleIdList/ArticleId") if pubmed_data is not None else ()
    for article_id in chain(own_ids, _grandchildren(cited, "ArticleIdList", "ArticleId")):
        id_type = article_id.get("IdType", "")
        value = _text(article_id)
        if id_type == "doi" and "doi" not in ids and normalise_doi(value):
            ids["doi"] = normalise_doi(value)
        elif id_type == "pmc" and "pmc" not in ids and normalise_pmcid(value):
            ids["pmc"] = normalise_pmcid(value)
    return ids


def _elocation_doi(fields: Children) -> str:
    for location in fields.get("ELocationID", ()):
        if location.get("EIdType") == "doi" and location.get("ValidYN", "Y") != "N":
            doi = normalise_doi(_text(location))
            if doi:
                return doi
    return ""


def _other_pmcid(cited: Children) -> str:
    for other in cited.get("OtherID", ()):
        value = _text(other)
        if value.upper().startswith("PMC"):
            return normalise_pmcid(value)
    return ""


def _mesh(cited: Children) -> tuple[MeshHeading, ...]:
    mesh_list = _first(cited, "MeshHeadingList")
    if mesh_list is None:
        return ()
    headings = []
    for heading in mesh_list:
        if heading.tag != "MeshHeading":
            continue
        descriptor = None
        qualifiers = []
        for part in heading:
            if part.tag == "QualifierName":
                qualifier_name = _text(part)
                if qualifier_name:
                    qualifiers.append((qualifier_name, part.get("MajorTopicYN") == "Y"))
            elif part.tag == "DescriptorName" and descriptor is None:
                descriptor = part
        name = _text(descriptor)
        if name and descriptor is not None:
            headings.append(
                MeshHeading(descriptor=name, major=descriptor.get("MajorTopicYN") == "Y", qualifiers=tuple(qualifiers))
            )
    return tuple(headings)


def _comments_corrections(cited: Children) -> tuple[tuple[tuple[str, str], ...], set[str]]:
    """Return the (RefType, PMID) pairs, and every RefType (also of entries without a PMID)."""
    pairs: dict[tuple[str, str], None] = {}
    ref_types: set[str] = set()
    for entry in _grandchildren(cited, "CommentsCorrectionsList", "CommentsCorrections"):
        ref_type = entry.get("RefType", "")
        ref_types.add(ref_type)
        pmid = _text(entry.find("PMID"))
        if pmid:
            pairs[(ref_type, pmid)] = None
    return tuple(pairs), ref_types
