"""OAI-PMH responses (Dublin Core): one page of ListRecords / ListIdentifiers / GetRecord.

``parse_oai_response`` is pure (bytes in, a page out); fetching a page through a maintained
OAI-PMH client library lives in ``ingest.guidelines.client``. A page carries its resumption
token, so a harvester can checkpoint it and resume at the next page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.etree

from ingest.guidelines.text import clean_inline
from ingest.guidelines.types import DeletedGuideline, GuidelineParseError, ParsedGuideline

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
DC_NS = "http://purl.org/dc/elements/1.1/"
_NS = {"oai": OAI_NS, "dc": DC_NS}
_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

NO_RECORDS_MATCH = "noRecordsMatch"


class OaiError(Exception):
    """An OAI-PMH error response (``<error code="...">``).

    ``empty`` is true for ``noRecordsMatch``: the request was fine and the answer is "nothing
    in this window", not a failure.
    """

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        self.message = message
        super().__init__(f"OAI-PMH error {code}: {message}".rstrip(": "))

    @property
    def empty(self) -> bool:
        return self.code == NO_RECORDS_MATCH


@dataclass(frozen=True)
class OaiPage:
    """One OAI-PMH response page.

    ``guidelines``: records with Dublin Core metadata (ListRecords, GetRecord); ``identifiers``:
    live headers without metadata (ListIdentifiers); ``deleted``: headers marked deleted.
    ``resumption_token`` is "" on the last page.
    """

    guidelines: tuple[ParsedGuideline, ...] = ()
    deleted: tuple[DeletedGuideline, ...] = ()
    resumption_token: str = ""
    complete_list_size: int | None = None
    cursor: int | None = None
    identifiers: tuple[str, ...] = ()
    verb: str = ""


def parse_oai_response(data: bytes) -> OaiPage:
    """Return the page an OAI-PMH response holds.

    Raises OaiError for an OAI error response and GuidelineParseError for bytes that are not
    a well-formed OAI-PMH document.
    """
    try:
        root = lxml.etree.fromstring(data, parser=_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        raise GuidelineParseError(f"malformed OAI-PMH XML: {exc}") from exc
    if root is None or lxml.etree.QName(root).localname != "OAI-PMH":
        raise GuidelineParseError("not an OAI-PMH response (the root element is not OAI-PMH)")
    errors = root.findall("oai:error", _NS)
    if errors:
        code = errors[0].get("code") or "error"
        raise OaiError(code, clean_inline(errors[0].text or ""))
    request = root.find("oai:request", _NS)
    verb = request.get("verb", "") if request is not None else ""
    guidelines: list[ParsedGuideline] = []
    deleted: list[DeletedGuideline] = []
    identifiers: list[str] = []
    for header in root.iter(f"{{{OAI_NS}}}header"):
        identifier = clean_inline(header.findtext("oai:identifier", default="", namespaces=_NS))
        if not identifier:
            continue
        if header.get("status") == "deleted":
            deleted.append(DeletedGuideline(source="oai", source_id=identifier))
            continue
        record = header.getparent()
        metadata = record.find("oai:metadata", _NS) if record is not None and record.tag.endswith("record") else None
        if metadata is None:
            identifiers.append(identifier)
            continue
        guideline = _dublin_core(identifier, header, metadata)
        if guideline is not None:
            guidelines.append(guideline)
        else:
            identifiers.append(identifier)
    token_el = root.find(".//oai:resumptionToken", _NS)
    token = clean_inline(token_el.text or "") if token_el is not None else ""
    return OaiPage(
        guidelines=tuple(guidelines),
        deleted=tuple(deleted),
        resumption_token=token,
        complete_list_size=_int(token_el.get("completeListSize")) if token_el is not None else None,
        cursor=_int(token_el.get("cursor")) if token_el is not None else None,
        identifiers=tuple(identifiers),
        verb=verb,
    )


def _dublin_core(identifier: str, header: lxml.etree._Element, metadata: lxml.etree._Element) -> ParsedGuideline | None:
    def values(name: str) -> list[str]:
        out = []
        for el in metadata.iter(f"{{{DC_NS}}}{name}"):
            text = clean_inline("".join(el.itertext()))
            if text and text not in out:
                out.append(text)
        return out

    titles = values("title")
    if not titles and not values("description"):
        return None
    urls = [v for v in values("identifier") if re.match(r"https?://", v)]
    dois = [m.group(0) for v in values("identifier") for m in [re.search(r"10\.\d{4,9}/\S+", v)] if m]
    dates = [*values("date"), clean_inline(header.findtext("oai:datestamp", default="", namespaces=_NS))]
    year = next((int(m.group(0)) for d in dates for m in [re.search(r"\b(?:19|20)\d\d\b", d)] if m), None)
    issuer = "; ".join(values("publisher")) or "; ".join(values("creator")[:3]) or "; ".join(values("contributor")[:3])
    languages = values("language")
    return ParsedGuideline(
        source="oai",
        source_id=identifier,
        title=titles[0] if titles else identifier,
        issuer=issuer,
        year=year,
        url=urls[0] if urls else "",
        doi=dois[0].rstrip(".,;") if dois else "",
        language=languages[0] if languages else "",
        summary="\n".join(values("description"))[:20_000],
        extra={
            "sets": ",".join(clean_inline(s.text or "") for s in header.findall("oai:setSpec", _NS)),
            "datestamp": dates[-1],
            "subjects": "; ".join(values("subject"))[:2000],
            "types": "; ".join(values("type")),
        },
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
