"""Writes for guidelines: store a read guideline, its recommendations as evidence records, versions.

``guideline_store`` is the one entry point for every source (files, harvests, uploads). It

- finds the stored guideline the document is (same source id, else the same DOI, else the same
  normalised title, issuer and year) so one guideline seen in two sources is one row;
- decides whether the document is the same version (updated in place when it says more), a newer
  version (a new row that supersedes the old one), or an older one (kept, already superseded);
- writes each recommendation as an ``EvidenceRecord`` of kind ``recommendation`` (a guideline
  without split recommendations becomes one record of kind ``guideline``), idempotently by
  content hash, and tombstones recommendations that disappeared;
- returns the ids of records to hand on to grading and indexing (after commit).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from guidelines.models import Guideline
from ingest.guidelines.types import DeletedGuideline, ParsedGuideline, ParsedRecommendation
from records.models import EvidenceRecord, RecordKind
from records.types import AbstractSection, ParsedRecord

RECORD_SOURCE = "guideline"
GUIDELINE_PUBLICATION_TYPE = "Practice Guideline"
_WORD = re.compile(r"[a-z0-9]+")
# Words that differ between two printings of one guideline's title and say nothing about it.
_TITLE_NOISE = frozenset(
    {
        "final",
        "recommendation",
        "recommendations",
        "statement",
        "clinical",
        "practice",
        "guideline",
        "guidelines",
        "management",
        "the",
        "a",
        "an",
        "of",
        "for",
        "and",
        "in",
        "on",
        "to",
        "with",
        "by",
        "uspstf",
        "va",
        "dod",
    }
)


class Outcome:
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    NEW_VERSION = "new_version"  # stored as a new version; the older one is now superseded
    OLDER_VERSION = "older_version"  # stored, but a newer version was already there
    DELETED = "deleted"
    NOT_FOUND = "not_found"  # a deletion of something never stored


@dataclass
class StoreResult:
    """What storing one guideline did."""

    outcome: str
    guideline_id: int | None
    changed_record_ids: list[int] = field(default_factory=list)


@dataclass
class GuidelineCounts:
    """Counts a guideline load or harvest reports (one guideline document each)."""

    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    new_versions: int = 0
    older_versions: int = 0
    deleted: int = 0
    recommendations: int = 0
    changed_record_ids: list[int] = field(default_factory=list)

    def add(self, result: StoreResult, *, recommendations: int = 0) -> None:
        self.read += 1
        self.recommendations += recommendations
        attribute = {
            Outcome.NEW: "new",
            Outcome.UPDATED: "updated",
            Outcome.UNCHANGED: "unchanged",
            Outcome.NEW_VERSION: "new_versions",
            Outcome.OLDER_VERSION: "older_versions",
            Outcome.DELETED: "deleted",
        }.get(result.outcome)
        if attribute:
            setattr(self, attribute, getattr(self, attribute) + 1)
        self.changed_record_ids.extend(result.changed_record_ids)


def match_text(text: str) -> str:
    """Return ``text`` folded for matching: ASCII lower-case words, single spaces, <= 255 chars."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(_WORD.findall(folded))[:255]


def match_title(title: str, *, issuer: str = "") -> str:
    """Return the key two printings of one guideline's title share.

    The distinct words of the title, sorted, without filler ("final recommendation statement",
    "clinical practice guideline") and without the words of the issuer's name, so "Screening for
    lung cancer: U.S. Preventive Services Task Force recommendation statement" and "Lung Cancer:
    Screening" (issuer USPSTF) share the key "cancer lung screening".
    """
    issuer_words = set(match_text(issuer).split())
    words = set(match_text(title).split()) - _TITLE_NOISE - issuer_words
    return " ".join(sorted(words))[:255]


def version_order(parsed: ParsedGuideline, stored: Guideline, *, same_document: bool) -> int:
    """Return 1 when ``parsed`` is a newer version than ``stored``, -1 when older, 0 when the same.

    Years decide when both are known; a different version label of the same document with no
    earlier year counts as newer (a publisher re-issuing under one id).
    """
    if parsed.year and stored.year and parsed.year != stored.year:
        return 1 if parsed.year > stored.year else -1
    if same_document and parsed.version and stored.version and parsed.version != stored.version:
        return 1
    return 0


def guideline_hash(parsed: ParsedGuideline) -> str:
    """Return a SHA-256 of everything the document says (not when it was read)."""
    payload = asdict(parsed)
    payload.pop("extra", None)
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_same_guideline(parsed: ParsedGuideline) -> tuple[Guideline | None, str]:
    """Return the stored guideline ``parsed`` is a copy or version of, and how it matched.

    Matched by source id (or an alias of it), else by DOI, else by normalised title + issuer +
    year (the year is left out of the key, so a newer version of the same title matches too).
    """
    rows = Guideline.objects.select_for_update()
    found = rows.filter(source=parsed.source, source_id=parsed.source_id).first()
    if found is not None:
        return found, "source_id"
    for row in rows.filter(aliases__isnull=False).exclude(aliases=[]):
        if [parsed.source, parsed.source_id] in row.aliases:
            return row, "alias"
    if parsed.doi:
        found = rows.filter(doi__iexact=parsed.doi).order_by("-year", "-id").first()
        if found is not None:
            return found, "doi"
    title = match_title(parsed.title, issuer=parsed.issuer)
    if title and parsed.year:
        # The year is part of the key: without it two printings cannot be told apart from two
        # versions, so a document without a year is matched by source id or DOI only.
        candidates = rows.filter(match_title=title, year__isnull=False)
        if parsed.issuer:
            candidates = candidates.filter(Q(match_issuer=match_text(parsed.issuer)) | Q(match_issuer=""))
        found = candidates.filter(superseded_by__isnull=True).order_by("-year", "-id").first()
        found = found or candidates.order_by("-year", "-id").first()
        if found is not None:
            return found, "title"
    return None, ""


def _guideline_values(parsed: ParsedGuideline, digest: str) -> dict[str, Any]:
    return {
        "title": parsed.title,
        "match_title": match_title(parsed.title, issuer=parsed.issuer),
        "issuer": parsed.issuer[:255],
        "match_issuer": match_text(parsed.issuer),
        "year": parsed.year,
        "published": parsed.published,
        "url": parsed.url[:500],
        "doi": parsed.doi[:255],
        "version": parsed.version[:64],
        "language": parsed.language[:16],
        "summary": parsed.summary,
        "sections": list(parsed.sections),
        "rating_scheme": parsed.rating_scheme,
        "content_hash": digest,
        "deleted_at": None,
    }


def _anchor(recommendation: ParsedRecommendation, position: int) -> str:
    if recommendation.anchor:
        return recommendation.anchor
    label = re.sub(r"[^A-Za-z0-9]+", "-", recommendation.number).strip("-")
    return f"rec-{label or position}"


def _recommendation_values(guideline: Guideline, rec: ParsedRecommendation, position: int) -> dict[str, Any]:
    detail = {
        "number": rec.number,
        "position": position,
        "section": rec.section,
        "strength": rec.strength,
        "certainty": rec.certainty,
        "direction": rec.direction,
        "grade": rec.grade,
        "strength_wording": rec.strength_wording,
        "population": rec.population,
        "anchor": _anchor(rec, position),
        "source_url": rec.source_url,
    }
    text = rec.text if not rec.population or rec.population in rec.text else f"{rec.text}\nPopulation: {rec.population}"
    return {
        "kind": RecordKind.RECOMMENDATION,
        "title": guideline.title,
        "abstract": text,
        "recommendation_text": rec.text,
        "recommendation": detail,
        "url": (rec.source_url or guideline.url)[:500],
        **_shared_record_values(guideline),
    }


def _summary_values(guideline: Guideline) -> dict[str, Any]:
    return {
        "kind": RecordKind.GUIDELINE,
        "title": guideline.title,
        "abstract": guideline.summary,
        "recommendation_text": "",
        "recommendation": {},
        "url": guideline.url[:500],
        **_shared_record_values(guideline),
    }


def _shared_record_values(guideline: Guideline) -> dict[str, Any]:
    return {
        "issuing_body": guideline.issuer[:255],
        "publication_year": guideline.year,
        "publication_date": guideline.published,
        "publication_date_raw": str(guideline.year or ""),
        "doi": guideline.doi,
        "language": guideline.language,
        "languages": [guideline.language] if guideline.language else [],
        "publication_types": [GUIDELINE_PUBLICATION_TYPE],
        "superseded": guideline.is_superseded,
        "guideline": guideline,
    }


def _record_hash(values: dict[str, Any]) -> str:
    plain = {k: (v.pk if isinstance(v, Guideline) else v) for k, v in values.items()}
    text = json.dumps(plain, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_records(guideline: Guideline, parsed: ParsedGuideline, *, harvested_at: datetime) -> list[int]:
    """Write the guideline's records (one per recommendation, or one summary); return changed ids."""
    wanted: dict[str, dict[str, Any]] = {}
    if parsed.recommendations:
        for position, rec in enumerate(parsed.recommendations, start=1):
            wanted[f"{guideline.pk}-{position}"] = _recommendation_values(guideline, rec, position)
    else:
        wanted[f"{guideline.pk}-0"] = _summary_values(guideline)
    existing = {r.source_id: r for r in EvidenceRecord.objects.filter(source=RECORD_SOURCE, guideline=guideline)}
    changed: list[int] = []
    for source_id, values in wanted.items():
        digest = _record_hash(values)
        record = existing.pop(source_id, None)
        if record is None:
            record = EvidenceRecord(
                source=RECORD_SOURCE,
                source_id=source_id,
                content_hash=digest,
                first_harvested_at=harvested_at,
                last_harvested_at=harvested_at,
                **values,
            )
            record.save()
            changed.append(record.pk)
            continue
        if record.content_hash == digest and record.deleted_at is None:
            continue
        for name, value in values.items():
            setattr(record, name, value)
        record.content_hash = digest
        record.deleted_at = None
        record.version += 1
        record.last_harvested_at = harvested_at
        record.save()
        changed.append(record.pk)
    for record in existing.values():  # recommendations the document no longer has
        if record.deleted_at is None:
            record.deleted_at = harvested_at
            record.save(update_fields=["deleted_at", "updated_at"])
            changed.append(record.pk)
    return changed


def _mark_superseded(old: Guideline, new: Guideline) -> list[int]:
    """Point ``old`` at ``new`` and take its records out of search; return their ids."""
    old.superseded_by = new
    old.save(update_fields=["superseded_by", "updated_at"])
    records = EvidenceRecord.objects.filter(guideline=old, superseded=False)
    ids = list(records.values_list("id", flat=True))
    records.update(superseded=True)
    return ids


def _add_alias(guideline: Guideline, parsed: ParsedGuideline) -> None:
    alias = [parsed.source, parsed.source_id]
    if alias != [guideline.source, guideline.source_id] and alias not in guideline.aliases:
        guideline.aliases = [*guideline.aliases, alias]
        guideline.save(update_fields=["aliases", "updated_at"])


def _create(parsed: ParsedGuideline, digest: str, *, harvested_at: datetime, source_id: str) -> Guideline:
    return Guideline.objects.create(
        source=parsed.source,
        source_id=source_id[:255],
        first_harvested_at=harvested_at,
        last_harvested_at=harvested_at,
        **_guideline_values(parsed, digest),
    )


@transaction.atomic
def guideline_store(*, parsed: ParsedGuideline, harvested_at: datetime) -> StoreResult:
    """Store one read guideline and its recommendations; return what happened.

    Idempotent: storing the same document again is ``unchanged`` and writes nothing. Record
    ids in the result must be handed to grading and indexing after the transaction commits.
    """
    digest = guideline_hash(parsed)
    stored, how = find_same_guideline(parsed)
    if stored is None:
        guideline = _create(parsed, digest, harvested_at=harvested_at, source_id=parsed.source_id)
        return StoreResult(Outcome.NEW, guideline.pk, _write_records(guideline, parsed, harvested_at=harvested_at))

    order = version_order(parsed, stored, same_document=how == "source_id")
    if order > 0:
        # A newer version: a row of its own; the old row keeps its recommendations, superseded.
        if how == "source_id":
            stored.source_id = f"{stored.source_id}@{stored.version or stored.year or stored.pk}"[:255]
            stored.save(update_fields=["source_id", "updated_at"])
        newer = _create(parsed, digest, harvested_at=harvested_at, source_id=parsed.source_id)
        changed = _write_records(newer, parsed, harvested_at=harvested_at)
        changed += _mark_superseded(stored, newer)
        return StoreResult(Outcome.NEW_VERSION, newer.pk, changed)
    if order < 0 and how == "source_id":
        return StoreResult(Outcome.UNCHANGED, stored.pk)  # an old copy of what we hold newer
    if order < 0:
        # An older version seen after a newer one (another source, or a backfill): kept, superseded.
        older = _create(parsed, digest, harvested_at=harvested_at, source_id=parsed.source_id)
        _write_records(older, parsed, harvested_at=harvested_at)
        newest = stored
        while newest.superseded_by_id is not None and newest.superseded_by is not None:
            newest = newest.superseded_by
        return StoreResult(Outcome.OLDER_VERSION, older.pk, _mark_superseded(older, newest))

    # The same version: seen again, or seen in another source.
    if how != "source_id":
        _add_alias(stored, parsed)
        richer = (
            len(parsed.recommendations)
            > stored.recommendations.filter(deleted_at__isnull=True).exclude(kind=RecordKind.GUIDELINE).count()
        )
        if not richer:
            stored.last_harvested_at = harvested_at
            stored.save(update_fields=["last_harvested_at", "updated_at"])
            return StoreResult(Outcome.UNCHANGED, stored.pk)
    if stored.content_hash == digest and stored.deleted_at is None:
        stored.last_harvested_at = harvested_at
        stored.save(update_fields=["last_harvested_at", "updated_at"])
        return StoreResult(Outcome.UNCHANGED, stored.pk)
    for name, value in _guideline_values(parsed, digest).items():
        if name == "doi" and not value:
            continue  # a copy without a DOI does not erase the one we know
        setattr(stored, name, value)
    stored.last_harvested_at = harvested_at
    stored.save()
    return StoreResult(Outcome.UPDATED, stored.pk, _write_records(stored, parsed, harvested_at=harvested_at))


@transaction.atomic
def guideline_delete(*, deleted: DeletedGuideline, deleted_at: datetime) -> StoreResult:
    """Tombstone a guideline a source says is gone, and its records; return what happened."""
    stored = Guideline.objects.filter(source=deleted.source, source_id=deleted.source_id).first()
    if stored is None:
        return StoreResult(Outcome.NOT_FOUND, None)
    if stored.deleted_at is None:
        stored.deleted_at = deleted_at
        stored.save(update_fields=["deleted_at", "updated_at"])
    records = EvidenceRecord.objects.filter(guideline=stored, deleted_at__isnull=True)
    ids = list(records.values_list("id", flat=True))
    records.update(deleted_at=deleted_at)
    return StoreResult(Outcome.DELETED, stored.pk, ids)


def guideline_store_item(
    *, item: ParsedGuideline | DeletedGuideline, harvested_at: datetime, counts: GuidelineCounts
) -> None:
    """Store one parsed guideline, or apply one deletion; add the outcome to ``counts``."""
    if isinstance(item, DeletedGuideline):
        counts.add(guideline_delete(deleted=item, deleted_at=harvested_at))
    else:
        counts.add(guideline_store(parsed=item, harvested_at=harvested_at), recommendations=len(item.recommendations))


def _parsed_from_stored(record: EvidenceRecord) -> ParsedRecord:
    """Return the parts of a stored PubMed record that the PubMed guideline reader reads."""
    sections = tuple(
        AbstractSection(text=str(s.get("text", "")), label=str(s.get("label", "")), category=str(s.get("category", "")))
        for s in record.abstract_sections or []
        if isinstance(s, dict)
    )
    if not sections and record.abstract:
        sections = (AbstractSection(text=record.abstract),)
    return ParsedRecord(
        source=record.source,
        source_id=record.source_id,
        title=record.title,
        abstract_sections=sections,
        journal=record.journal,
        publication_date=record.publication_date,
        publication_date_raw=record.publication_date_raw,
        authors=tuple(record.authors or ()),
        doi=record.doi,
        languages=tuple(record.languages or ()),
        publication_types=tuple(record.publication_types or ()),
        url=record.url,
    )


def guidelines_from_pubmed(*, record_ids: Sequence[int]) -> list[int]:
    """Make guidelines of the PubMed records typed Practice Guideline, Guideline or Consensus
    Development Conference among ``record_ids`` (recommendations split from their abstracts).

    A hand-off stage: returns the ids of the recommendation records it changed, after handing
    them on to grading and indexing itself.
    """
    from ingest.guidelines.pubmed import guideline_from_pubmed, is_guideline_type
    from ingest.pipeline import records_changed

    changed: list[int] = []
    records = EvidenceRecord.objects.filter(id__in=list(record_ids), source="pubmed", deleted_at__isnull=True)
    for record in records.iterator():
        if not is_guideline_type(record.publication_types or []):
            continue
        parsed = guideline_from_pubmed(_parsed_from_stored(record))
        if parsed is not None:
            changed.extend(guideline_store(parsed=parsed, harvested_at=record.last_harvested_at).changed_record_ids)
    if changed:
        transaction.on_commit(lambda: records_changed(changed))
    return changed
