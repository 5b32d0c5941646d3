"""Keep the search index in step with the database (writes; called by tasks and commands).

- ``records_index``: text at once (lexical search works immediately), vectors marked pending.
- ``embed_pending``: embeds pending records in batches and re-indexes them with vectors.
- ``rebuild_index``: a new generation (create, fill, verify, switch, drop old).
- ``reconcile_index``: counts and a content-hash checksum against the database; repairs drift.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from records.models import EvidenceRecord
from search import clinical_queries
from search.backends import get_backend
from search.backends.base import IndexReport, SearchBackend, SearchBackendError, SearchFilters
from search.documents import IndexDocument
from search.embeddings import Embedder, document_text, embedder_for_space, get_embedder
from search.models import IndexEntry

logger = logging.getLogger(__name__)

EMBED_BATCH = 64
CHUNK = 500


def record_text(record: EvidenceRecord) -> str:
    """Return the abstract text indexed for a record (guideline recommendations included)."""
    abstract = record.abstract or " ".join(str(s.get("text", "")) for s in record.abstract_sections or [])
    return f"{abstract} {record.recommendation_text}".strip() if record.recommendation_text else abstract


def clinical_query_tags(record: EvidenceRecord) -> list[str]:
    """Return the ``cq:<filter>`` tags of the PubMed Clinical Queries filters the record matches."""
    fields = clinical_queries.RecordFields.build(
        title=record.title,
        abstract=record_text(record),
        mesh_headings=[h for h in record.mesh_headings or [] if isinstance(h, dict)],
        publication_types=[str(t) for t in record.publication_types or []],
        keywords=[str(k) for k in record.keywords or []],
        journal=record.journal_abbreviation,
    )
    return [clinical_queries.tag_of(key) for key in clinical_queries.matching_filters(fields)]


def record_tags(record: EvidenceRecord) -> list[str]:
    """Return the filter tags of a record: its kind, the clinical-query filters it matches
    (``cq:therapy_narrow``...), and a recommendation's issuer and strength.

    Tags are ``name:value`` strings that every backend stores as exact keywords (see
    ``search.documents.TAG_FACETS``).
    """
    tags = [f"kind:{record.kind}", *clinical_query_tags(record)]
    if record.kind == "recommendation":
        if record.issuing_body:
            tags.append(f"issuer:{record.issuing_body}")
        strength = (record.recommendation or {}).get("strength")
        if strength:
            tags.append(f"strength:{strength}")
    return tags


def document_for(
    record: EvidenceRecord, *, vector: Sequence[float] | np.ndarray | None = None, model: str = ""
) -> IndexDocument:
    """Return the IndexDocument of a record; its content_hash covers every indexed field."""
    fields = {
        "doc_id": record.uid,
        "title": record.title,
        "abstract": record_text(record),
        "mesh_terms": [str(h.get("descriptor", "")) for h in record.mesh_headings or [] if isinstance(h, dict)],
        "keywords": [str(k) for k in record.keywords or []],
        "evidence_level": record.evidence_level or "unknown",
        "publication_year": record.publication_year,
        "publication_types": [str(t) for t in record.publication_types or []],
        "journal": record.journal,
        "language": record.language,
        "free_full_text": record.free_full_text,
        "retracted": record.retracted,
        "tags": record_tags(record),
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return IndexDocument(
        doc_id=record.uid,
        title=record.title,
        abstract=fields["abstract"],  # type: ignore[arg-type]
        mesh_terms=tuple(fields["mesh_terms"]),  # type: ignore[arg-type]
        keywords=tuple(fields["keywords"]),  # type: ignore[arg-type]
        evidence_level=record.evidence_level or "unknown",
        publication_year=record.publication_year,
        publication_types=tuple(fields["publication_types"]),  # type: ignore[arg-type]
        journal=record.journal,
        language=record.language,
        free_full_text=record.free_full_text,
        retracted=record.retracted,
        tags=tuple(fields["tags"]),  # type: ignore[arg-type]
        content_hash=digest,
        vector=tuple(float(v) for v in vector) if vector is not None else None,
        vector_model=model if vector is not None else "",
    )


def _embedding_text(record: EvidenceRecord) -> str:
    return document_text(record.title, record_text(record))


def records_index(*, record_ids: Sequence[int], backend: SearchBackend | None = None) -> IndexReport:
    """Index the text of the given records now (vectors pending); remove deleted records.

    Unchanged records (same content hash) are skipped, so calling twice changes nothing.
    Returns the backend's report; raises SearchBackendError when the backend fails.
    """
    backend = backend or get_backend()
    records = list(EvidenceRecord.objects.filter(id__in=list(record_ids)).select_related("index_entry", "guideline"))
    gone = [r for r in records if not r.is_searchable]
    report = IndexReport()
    if gone:
        backend.delete_documents([r.uid for r in gone])
        IndexEntry.objects.filter(record__in=gone).delete()
    changed: list[tuple[EvidenceRecord, IndexDocument]] = []
    for record in records:
        if not record.is_searchable:
            continue
        doc = document_for(record)
        entry = getattr(record, "index_entry", None)
        if entry is not None and entry.content_hash == doc.content_hash and entry.doc_id == doc.doc_id:
            report.skipped += 1
            continue
        changed.append((record, doc))
    if changed:
        result = backend.index_documents([doc for _, doc in changed])
        report.indexed, report.errors = result.indexed, result.errors
        with transaction.atomic():
            # Replace the entries in bulk: two queries per batch instead of two per record.
            IndexEntry.objects.filter(record__in=[record for record, _ in changed]).delete()
            IndexEntry.objects.bulk_create(
                [
                    IndexEntry(record=record, doc_id=doc.doc_id, content_hash=doc.content_hash, vector_ready=False)
                    for record, doc in changed
                ]
            )
    return report


def embed_pending(*, limit: int, backend: SearchBackend | None = None) -> int:
    """Embed up to ``limit`` records whose vectors are pending and index them with vectors.

    Returns how many records got a vector. Raises EmbeddingError / SearchBackendError.
    """
    backend = backend or get_backend()
    entries = list(
        IndexEntry.objects.vector_pending()
        .filter(record__deleted_at__isnull=True, record__superseded=False)
        .select_related("record", "record__guideline")
        .order_by("id")[: max(limit, 0)]
    )
    if not entries:
        return 0
    # The live generation's model (a re-embed may have changed it), else the configured one.
    embedder = embedder_for_space(backend.vector_space())
    done = 0
    for start in range(0, len(entries), EMBED_BATCH):
        batch = entries[start : start + EMBED_BATCH]
        vectors = embedder.embed_texts([_embedding_text(e.record) for e in batch])
        docs = [
            document_for(e.record, vector=v, model=embedder.model_name) for e, v in zip(batch, vectors, strict=True)
        ]
        backend.index_documents(docs)
        with transaction.atomic():
            for entry, doc in zip(batch, docs, strict=True):
                IndexEntry.objects.filter(pk=entry.pk).update(
                    vector_ready=True, vector_model=embedder.model_name, content_hash=doc.content_hash
                )
        done += len(batch)
    return done


def _live_queryset() -> QuerySet[EvidenceRecord]:
    return EvidenceRecord.objects.filter(deleted_at__isnull=True, superseded=False).select_related("guideline")


def _live_records(size: int = CHUNK) -> Iterator[list[EvidenceRecord]]:
    """Yield live records in id order, ``size`` at a time. Each page is its own query, so no
    cursor stays open while the caller writes (on SQLite an open read would pin a snapshot, and
    the caller's next write fails as soon as another connection, a heartbeat, has committed)."""
    last = 0
    while True:
        chunk = list(_live_queryset().filter(id__gt=last).order_by("id")[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].id


# (phase, done, total): called as a rebuild goes; it may raise to stop the rebuild (a cancel).
Progress = Callable[[str, int, int], None]
# Records saved this long before a catch-up query may still have been uncommitted when it ran;
# re-reading them costs a hash comparison each.
CATCH_UP_MARGIN = timedelta(seconds=10)
CATCH_UP_PASSES = 5


@dataclass
class RebuildReport:
    generation: str
    indexed: int = 0
    with_vectors: int = 0
    dropped: list[str] = field(default_factory=list)
    model: str = ""
    caught_up: int = 0


class _Filler:
    """Writes records into the generation being built and remembers what it wrote."""

    def __init__(self, target: SearchBackend, embedder: Embedder, *, embed_all: bool, progress: Progress) -> None:
        self.target, self.embedder, self.embed_all, self.progress = target, embedder, embed_all, progress
        self.hashes: dict[int, str] = {}
        self.ready: set[int] = set()

    def write(self, records: Sequence[EvidenceRecord], *, phase: str, done: int, total: int) -> int:
        """Index ``records`` (vectors from the cache, or all embedded with ``embed_all``); return done."""
        for start in range(0, len(records), EMBED_BATCH if self.embed_all else len(records) or 1):
            part = records[start : start + (EMBED_BATCH if self.embed_all else len(records))]
            texts = [_embedding_text(r) for r in part]
            if self.embed_all:
                vectors: dict[int, np.ndarray] = dict(enumerate(self.embedder.embed_texts(texts)))
            else:
                vectors = self.embedder.cached_vectors(texts)
            docs = []
            for i, record in enumerate(part):
                vector = vectors.get(i)
                model = self.embedder.model_name if vector is not None else ""
                doc = document_for(record, vector=vector, model=model)
                docs.append(doc)
                self.hashes[record.id] = doc.content_hash
                if vector is not None:
                    self.ready.add(record.id)
                else:
                    self.ready.discard(record.id)
            result = self.target.index_documents(docs)
            if result.errors:
                raise SearchBackendError(f"rebuild: {len(result.errors)} document(s) failed: {result.errors[0]}")
            done += len(part)
            self.progress(phase, done, total)
        return done

    def catch_up(self, since: datetime) -> tuple[int, datetime]:
        """Re-apply records saved since ``since`` (a harvest running meanwhile); return how many
        changed in the generation and the mark of the next pass."""
        mark = timezone.now() - CATCH_UP_MARGIN
        changed = list(EvidenceRecord.objects.filter(updated_at__gte=since).select_related("guideline").order_by("id"))
        gone = [r for r in changed if not r.is_searchable and r.id in self.hashes]
        if gone:
            self.target.delete_documents([r.uid for r in gone])
            for record in gone:
                self.hashes.pop(record.id, None)
                self.ready.discard(record.id)
        redo = [r for r in changed if r.is_searchable and self.hashes.get(r.id) != document_for(r).content_hash]
        if redo:
            self.write(redo, phase="catching up with records saved meanwhile", done=0, total=len(redo))
        return len(gone) + len(redo), mark


def rebuild_index(
    *,
    backend: SearchBackend | None = None,
    embedder: Embedder | None = None,
    embed_all: bool = False,
    batch_size: int = CHUNK,
    progress: Progress | None = None,
    on_generation: Callable[[str], None] | None = None,
) -> RebuildReport:
    """Build a fresh generation from the database, verify it, switch to it, keep the previous
    live generation for rollback and drop older ones.

    Vectors whose text is already in the embedding disk cache are carried over and the rest are
    left pending for ``embed_pending``; with ``embed_all`` every record is embedded first by
    ``embedder`` (a re-embed: the generation records that model, and the old generation stays
    live until the new one is complete). Records saved while the generation fills (a harvest)
    are caught up before and after the switch, so no write is lost to it. ``progress`` is told
    (phase, done, total) and may raise to stop; ``on_generation`` gets the new generation's
    name as soon as it exists. On any error or stop the new generation is dropped and the live
    one is left untouched. Raises SearchBackendError when verification fails.
    """
    backend = backend or get_backend()
    embedder = embedder or get_embedder()
    say: Progress = progress or (lambda phase, done, total: None)
    old = backend.generations()
    previous_live = backend.live_generation()
    since = timezone.now() - CATCH_UP_MARGIN
    total = _live_queryset().count()
    generation = ""
    try:
        generation = backend.create_generation()
        if on_generation is not None:
            on_generation(generation)
        report = RebuildReport(generation=generation, model=embedder.model_name)
        target = backend.generation_backend(generation)
        filler = _Filler(target, embedder, embed_all=embed_all, progress=say)
        done = 0
        say("filling the new generation", 0, total)
        for chunk in _live_records(max(int(batch_size), 1)):
            done = filler.write(chunk, phase="filling the new generation", done=done, total=total)
        for _ in range(CATCH_UP_PASSES):
            changed, since = filler.catch_up(since)
            report.caught_up += changed
            if not changed:
                break
        say("verifying", done, total)
        report.indexed, report.with_vectors = len(filler.hashes), len(filler.ready)
        if target.count(filters=SearchFilters()) != report.indexed:
            raise SearchBackendError(f"rebuild verification failed: {report.indexed} records, index disagrees")
        if embed_all and report.indexed and target.vector_space() != (embedder.model_name, embedder.dimension):
            raise SearchBackendError(f"rebuild verification failed: vectors are not all from {embedder.model_name}")
        say("switching", done, total)
        backend.switch_generation(generation)
    except BaseException as exc:
        if generation and backend.live_generation() != generation:
            backend.drop_generation(generation)
        if isinstance(exc, (OSError, ValueError, sqlite3.Error)):
            # A full disk (or a failing one) while writing the new generation: what was written
            # is dropped, the live generation and the database are as they were; say what to do.
            raise SearchBackendError(
                f"could not write the new index generation ({exc}); nothing was changed: the live index"
                " and the database are as before. Free space in the data folder and run rebuild_index again."
            ) from exc
        raise
    _rewrite_entries(filler, embedder.model_name)
    # Writes that reached the old generation between the last catch-up and the switch.
    late = list(EvidenceRecord.objects.filter(updated_at__gte=since).values_list("id", flat=True))
    for start in range(0, len(late), CHUNK):
        records_index(record_ids=late[start : start + CHUNK], backend=backend)
    # Keep the generation that was live until now, for rollback; drop the ones before it.
    for name in old:
        if name not in (generation, previous_live):
            backend.drop_generation(name)
            report.dropped.append(name)
    say("done", done, total)
    return report


def _rewrite_entries(filler: _Filler, model: str) -> None:
    with transaction.atomic():
        IndexEntry.objects.all().delete()
        uids = dict(EvidenceRecord.objects.filter(id__in=list(filler.hashes)).values_list("id", "uid"))
        IndexEntry.objects.bulk_create(
            [
                IndexEntry(
                    record_id=rid,
                    doc_id=uids[rid],
                    content_hash=h,
                    vector_ready=rid in filler.ready,
                    vector_model=model if rid in filler.ready else "",
                )
                for rid, h in filler.hashes.items()
                if rid in uids
            ],
            batch_size=1000,
        )


@dataclass
class ReconcileReport:
    database: int
    indexed: int
    missing: list[str]
    extra: list[str]
    stale: list[str]
    database_checksum: str
    index_checksum: str
    repaired: bool = False

    @property
    def in_step(self) -> bool:
        return not (self.missing or self.extra or self.stale)


def _checksum(pairs: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for doc_id in sorted(pairs):
        digest.update(f"{doc_id}:{pairs[doc_id]}\n".encode())
    return digest.hexdigest()


def reconcile_index(*, repair: bool, backend: SearchBackend | None = None) -> ReconcileReport:
    """Compare the index with the database (ids and content hashes); with ``repair``, delete
    extra documents and re-index missing or stale ones. Returns what was found (before repair)."""
    backend = backend or get_backend()
    expected: dict[str, str] = {}
    ids_by_uid: dict[str, int] = {}
    for chunk in _live_records():
        for record in chunk:
            expected[record.uid] = document_for(record).content_hash
            ids_by_uid[record.uid] = record.id
    indexed_ids = backend.document_ids()
    actual = backend.content_hashes(sorted(indexed_ids))
    missing = sorted(expected.keys() - indexed_ids)
    extra = sorted(indexed_ids - expected.keys())
    stale = sorted(d for d in expected.keys() & indexed_ids if actual.get(d) != expected[d])
    report = ReconcileReport(
        database=len(expected),
        indexed=len(indexed_ids),
        missing=missing,
        extra=extra,
        stale=stale,
        database_checksum=_checksum(expected),
        index_checksum=_checksum(actual),
    )
    if repair and not report.in_step:
        if extra:
            backend.delete_documents(extra)
            IndexEntry.objects.filter(doc_id__in=extra).delete()
        redo = [ids_by_uid[d] for d in (*missing, *stale)]
        IndexEntry.objects.filter(record_id__in=redo).delete()
        for start in range(0, len(redo), CHUNK):
            records_index(record_ids=redo[start : start + CHUNK], backend=backend)
        report.repaired = True
    return report
