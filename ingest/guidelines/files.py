"""Guideline files on disk: format detection and one reader entry point per file or file set.

``read_guideline_path`` never raises: a bad file yields one ``ParseProblem`` with the reason.
``read_guideline_paths`` groups FHIR resources of one guideline that sit in separate files
(a guideline Composition, its recommendation Compositions and their ArtifactAssessments)
before parsing them together; other formats are read file by file.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from ingest.guidelines import documents
from ingest.guidelines.client import max_guideline_bytes
from ingest.guidelines.feeds import parse_feed
from ingest.guidelines.fhir import flatten_resources, guideline_keys, is_fhir_resource, parse_fhir_resources
from ingest.guidelines.ngc import parse_ngc
from ingest.guidelines.nice import parse_nice_csv, parse_nice_xml
from ingest.guidelines.oai import OaiError, parse_oai_response
from ingest.guidelines.splitter import guideline_from_text
from ingest.guidelines.types import DeletedGuideline, GuidelineParseError, ParsedGuideline
from ingest.guidelines.uspstf import parse_uspstf
from records.types import ParseProblem

ReadItem = ParsedGuideline | DeletedGuideline | ParseProblem
FORMATS = ("uspstf", "ngc", "fhir", "oai", "feed", "nice_xml", "nice_csv", "pdf", "docx", "html", "text")


def detect_format(name: str, head: bytes) -> str:
    """Return the format of a (decompressed) file from its name and first bytes.

    One of FORMATS; "text" when nothing more specific matches.
    """
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    sniff = head[:8192].lstrip(b"\xef\xbb\xbf \t\r\n")
    low = sniff.lower()
    if sniff.startswith(b"%PDF-"):
        return "pdf"
    if sniff.startswith(b"PK\x03\x04"):
        return "docx"
    if sniff.startswith((b"{", b"[")):
        if b"specificrecommendations" in low or (b'"grade"' in low and b'"agerange"' in low):
            return "uspstf"
        if b'"resourcetype"' in low:
            return "fhir"
        return "uspstf" if "uspstf" in lower else "fhir"
    if sniff.startswith(b"<") or sniff.startswith(b"<?xml"):
        if b"<oai-pmh" in low:
            return "oai"
        if b"<rss" in low or b"<feed" in low or b"<rdf:rdf" in low:
            return "feed"
        if (b"<version>" in low and b"<section" in low) or b"fieldid=" in low:
            return "ngc"
        if b"<guidelines" in low and b"<provider" in low:
            return "nice_xml"
        if b"<html" in low or b"<!doctype html" in low:
            return "html"
        if lower.endswith((".html", ".htm")):
            return "html"
        return "ngc" if lower.startswith("ngc") else "text"
    if lower.endswith(".csv") and b"title" in low.split(b"\n", 1)[0]:
        return "nice_csv"
    if lower.endswith((".html", ".htm")):
        return "html"
    if lower.endswith(".docx"):
        return "docx"
    if lower.endswith(".pdf"):
        return "pdf"
    return "text"


def read_guideline_path(path: Path) -> Iterator[ReadItem]:
    """Yield the guidelines (and OAI deletions) in one file; a bad file yields one ParseProblem."""
    try:
        data = _read_bytes(path)
        yield from _parse(path, data)
    except (GuidelineParseError, OaiError, OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        yield ParseProblem(location=str(path), reason=str(exc) or type(exc).__name__)
    except Exception as exc:  # a reader bug must not stop a load: report it against the file
        yield ParseProblem(location=str(path), reason=f"unexpected {type(exc).__name__}: {exc}")


def read_guideline_paths(paths: Sequence[Path]) -> Iterator[ReadItem]:
    """Yield what ``read_guideline_path`` yields for each path, FHIR files grouped by guideline."""
    fhir: list[tuple[Path, list[dict]]] = []
    for path in paths:
        try:
            data = _read_bytes(path)
        except (GuidelineParseError, OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            yield ParseProblem(location=str(path), reason=str(exc) or type(exc).__name__)
            continue
        if detect_format(path.name, data[:8192]) == "fhir":
            try:
                resources = flatten_resources(_json_resources(data))
            except GuidelineParseError as exc:
                yield ParseProblem(location=str(path), reason=str(exc))
                continue
            fhir.append((path, resources))
            continue
        try:
            yield from _parse(path, data)
        except (GuidelineParseError, OaiError, UnicodeDecodeError) as exc:
            yield ParseProblem(location=str(path), reason=str(exc))
        except Exception as exc:
            yield ParseProblem(location=str(path), reason=f"unexpected {type(exc).__name__}: {exc}")
    yield from _fhir_groups(fhir)


def _fhir_groups(files: list[tuple[Path, list[dict]]]) -> Iterator[ReadItem]:
    # Union-find over files that share a key (a reference, url, or documentation artifact).
    parent = list(range(len(files)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, (_path, resources) in enumerate(files):
        for resource in resources:
            for key in guideline_keys(resource):
                if key in owner:
                    parent[find(index)] = find(owner[key])
                else:
                    owner[key] = index
    groups: dict[int, list[int]] = {}
    for index in range(len(files)):
        groups.setdefault(find(index), []).append(index)
    for members in groups.values():
        resources = [r for i in members for r in files[i][1]]
        try:
            guidelines = parse_fhir_resources(resources)
        except Exception as exc:
            for i in members:
                yield ParseProblem(location=str(files[i][0]), reason=f"unexpected {type(exc).__name__}: {exc}")
            continue
        yield from guidelines


def _read_bytes(path: Path) -> bytes:
    limit = max_guideline_bytes()
    size = path.stat().st_size
    with path.open("rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        with gzip.open(path, "rb") as handle:
            data = handle.read(limit + 1)
    else:
        if size > limit:
            raise GuidelineParseError(
                f"the file is {size} bytes, over the limit of {limit} bytes (GUIDELINE_MAX_BYTES)"
            )
        data = path.read_bytes()
    if len(data) > limit:
        raise GuidelineParseError(f"the file is over the limit of {limit} bytes (GUIDELINE_MAX_BYTES) once unzipped")
    return data


def _json_resources(data: bytes) -> list[dict]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GuidelineParseError(f"not JSON: {exc}") from exc
    items = value if isinstance(value, list) else [value]
    resources = [v for v in items if is_fhir_resource(v)]
    if not resources and not any(isinstance(v, dict) and v.get("resourceType") for v in items):
        raise GuidelineParseError("not a FHIR resource (no resourceType)")
    return resources


def _parse(path: Path, data: bytes) -> Iterator[ReadItem]:
    kind = detect_format(path.name, data[:8192])
    stem = path.name.split(".", 1)[0]
    if kind == "uspstf":
        yield from parse_uspstf(data)
    elif kind == "ngc":
        yield parse_ngc(data, source_id=stem)
    elif kind == "fhir":
        yield from parse_fhir_resources(_json_resources(data))
    elif kind == "oai":
        try:
            page = parse_oai_response(data)
        except OaiError as exc:
            if exc.empty:
                return
            raise
        yield from page.guidelines
        yield from page.deleted
    elif kind == "feed":
        for item in parse_feed(data, feed_url=path.as_uri()):
            yield ParsedGuideline(
                source="feed", source_id=item.guid, title=item.title, url=item.link, summary=item.summary,
                year=item.published.year if item.published else None, published=item.published,
            )  # fmt: skip
    elif kind == "nice_xml":
        yield from parse_nice_xml(data)
    elif kind == "nice_csv":
        yield from parse_nice_csv(data)
    else:
        name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
        extracted = documents.extract_text(data, filename=name, max_bytes=max_guideline_bytes())
        yield guideline_from_text(
            extracted.text, source="upload", source_id=stem, title=extracted.title or stem.replace("_", " ")
        )
