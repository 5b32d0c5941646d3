"""The embedded backend (default, no server): tantivy BM25 text index + memory-mapped vectors.

Layout under ``OPTIONS["path"]``::

    CURRENT                      name of the live generation (replaced atomically)
    write.lock                   one writer at a time across processes
    generations/<name>/text/     tantivy index (en_stem fields with per-field boosts)
    generations/<name>/meta.sqlite3, vectors-*.npy, state.json   (see embedded_store)

Readers (web processes) compare ``state.json``'s version and ``CURRENT`` on every call and
reload the tantivy searcher / re-open the vector memmap when a writer has committed.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tantivy
from filelock import FileLock

from search import analysis
from search.backends import embedded_ann
from search.backends.base import (
    DuplicateDocumentError,
    DuplicatePolicy,
    FacetCounts,
    Health,
    Hit,
    IndexReport,
    LexicalQuery,
    SearchBackend,
    SearchBackendError,
    SearchBackendUnavailable,
    SearchFilters,
)
from search.backends.embedded_store import Snapshot, State, check_vector, connect, grow_vectors
from search.documents import IndexDocument, tag_facets

# "body" is title + abstract in one field (BM25 over the whole text, with the title repeated
# ``title_repeat`` times); the separate fields add per-field boosts on top.
TEXT_FIELDS = ("body", "title", "abstract", "mesh", "keywords")
DEFAULT_FIELD_WEIGHTS = {"body": 1.0, "title": 0.0, "abstract": 0.0, "mesh": 0.0, "keywords": 0.0}
DEFAULT_TITLE_REPEAT = 2
YEAR_MAX = 10_000


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("doc_id", stored=True, tokenizer_name="raw")
    for name in TEXT_FIELDS:
        sb.add_text_field(name, stored=False, tokenizer_name="en_stem")
    sb.add_text_field("level", tokenizer_name="raw")
    sb.add_text_field("pubtype", tokenizer_name="raw")
    sb.add_text_field("language", tokenizer_name="raw")
    sb.add_text_field("tag", tokenizer_name="raw")
    sb.add_integer_field("year", indexed=True, fast=True)
    sb.add_integer_field("free_full_text", indexed=True)
    sb.add_integer_field("retracted", indexed=True)
    return sb.build()


SCHEMA = build_schema()


def _setting(name: str, default: int) -> int:
    """Return a Django setting when Django is configured (the backend also runs without it)."""
    try:
        from django.conf import settings

        return int(getattr(settings, name, default))
    except Exception:  # ImproperlyConfigured outside a Django process
        return default


def _tantivy_document(doc: IndexDocument, title_repeat: int) -> tantivy.Document:
    values: dict[str, Any] = {
        "doc_id": doc.doc_id,
        "body": " ".join([doc.title] * max(title_repeat, 1) + [doc.abstract]),
        "title": doc.title,
        "abstract": doc.abstract,
        "mesh": list(doc.mesh_terms) or [""],
        "keywords": list(doc.keywords) or [""],
        "level": doc.evidence_level or "unknown",
        "pubtype": [t.lower() for t in doc.publication_types] or [""],
        "language": (doc.language or "").lower(),
        "tag": list(doc.tags) or [""],
        "year": doc.publication_year if doc.publication_year is not None else -1,
        "free_full_text": int(doc.free_full_text),
        "retracted": int(doc.retracted),
    }
    return tantivy.Document(**values)


def filter_queries(filters: SearchFilters) -> list[tantivy.Query]:
    """Return tantivy clauses (scored 0) that keep only documents passing ``filters``."""
    q = tantivy.Query
    out: list[tantivy.Query] = []
    if filters.evidence_levels:
        out.append(q.term_set_query(SCHEMA, "level", list(filters.evidence_levels)))
    if filters.year_from is not None or filters.year_to is not None:
        lo = filters.year_from if filters.year_from is not None else 0
        hi = filters.year_to if filters.year_to is not None else YEAR_MAX
        out.append(q.range_query(SCHEMA, "year", tantivy.FieldType.Integer, max(lo, 0), hi))
    if filters.publication_types:
        out.append(q.term_set_query(SCHEMA, "pubtype", [t.lower() for t in filters.publication_types]))
    if filters.free_full_text is not None:
        out.append(q.term_query(SCHEMA, "free_full_text", int(filters.free_full_text)))
    if filters.languages:
        out.append(q.term_set_query(SCHEMA, "language", [lang.lower() for lang in filters.languages]))
    if not filters.include_retracted:
        out.append(q.term_query(SCHEMA, "retracted", 0))
    for group in filters.tag_groups:
        out.append(q.term_set_query(SCHEMA, "tag", list(group)))
    return [q.const_score_query(clause, 0.0) for clause in out]


def build_lexical_query(query: LexicalQuery, filters: SearchFilters, weights: dict[str, float]) -> tantivy.Query | None:
    """Build the tantivy query programmatically (no query-string parser: nothing can raise).

    Free terms are OR-ed, each term scored in every text field with that field's boost; quoted
    phrases must match in some field. Returns None when nothing searchable is left.
    """
    q = tantivy.Query
    clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
    should: list[tuple[tantivy.Occur, tantivy.Query]] = []
    term_weights = list(query.term_weights) + [1.0] * (len(query.terms) - len(query.term_weights))
    for raw, weight in zip(query.terms, term_weights, strict=False):
        for term in analysis.analyze(raw):
            for name in TEXT_FIELDS:
                boost = weights.get(name, 1.0) * weight
                if boost > 0:
                    should.append((tantivy.Occur.Should, q.boost_query(q.term_query(SCHEMA, name, term), boost)))
    for phrase in query.phrases:
        tokens = analysis.analyze(phrase)
        if not tokens:
            continue
        per_field = []
        for name in TEXT_FIELDS:
            words: list[str | tuple[int, str]] = list(tokens)
            inner = q.term_query(SCHEMA, name, tokens[0]) if len(tokens) == 1 else q.phrase_query(SCHEMA, name, words)
            per_field.append((tantivy.Occur.Should, q.boost_query(inner, max(weights.get(name, 1.0), 0.01))))
        clauses.append((tantivy.Occur.Must, q.boolean_query(per_field)))
    if should:
        # Free terms are optional beside a required phrase, required (any of them) otherwise.
        clauses.append((tantivy.Occur.Should if clauses else tantivy.Occur.Must, q.boolean_query(should)))
    if not clauses:
        return None
    clauses.extend((tantivy.Occur.Must, f) for f in filter_queries(filters))
    return q.boolean_query(clauses)


class _Reader:
    """Per-process view of one generation, refreshed when its state version changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.index = tantivy.Index(SCHEMA, path=str(path / "text"), reuse=True)
        self.snapshot: Snapshot | None = None

    def current(self) -> tuple[Snapshot, tantivy.Searcher]:
        state = State.read(self.path)
        with self.lock:
            if self.snapshot is None or self.snapshot.version != state.version:
                self.index.reload()
                self.snapshot = Snapshot.load(self.path, state)
                self.searcher = self.index.searcher()
            return self.snapshot, self.searcher


class EmbeddedBackend(SearchBackend):
    """tantivy + numpy (+ usearch HNSW above ``ann_threshold`` vectors). See module docstring."""

    def __init__(self, alias: str, **options: Any) -> None:
        super().__init__(alias, **options)
        self.root = Path(str(options["path"]))
        self.fixed_generation: str | None = options.get("generation")
        self.field_weights = {**DEFAULT_FIELD_WEIGHTS, **dict(options.get("field_weights") or {})}
        self.title_repeat = int(options.get("title_repeat") or _setting("SEARCH_TITLE_REPEAT", DEFAULT_TITLE_REPEAT))
        self.ann_threshold = int(
            options.get("ann_threshold") or _setting("SEARCH_ANN_THRESHOLD", embedded_ann.DEFAULT_THRESHOLD)
        )
        # Filters leaving fewer rows than this are scored exactly (tests set 0 to reach HNSW).
        self.ann_exact_below = int(options.get("ann_exact_below", embedded_ann.EXACT_BELOW))
        self.heap_size = int(options.get("writer_heap_bytes") or 64_000_000)
        self._readers: dict[str, _Reader] = {}
        self._readers_lock = threading.Lock()

    # --- paths -------------------------------------------------------------------------------
    def _gen_path(self, name: str) -> Path:
        return self.root / "generations" / name

    def _write_lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / "write.lock"), timeout=300)

    def _init_generation(self, name: str) -> Path:
        path = self._gen_path(name)
        (path / "text").mkdir(parents=True, exist_ok=True)
        tantivy.Index(SCHEMA, path=str(path / "text"), reuse=True)
        connect(path).close()
        if not (path / "state.json").exists():
            State().write(path)
        return path

    def _generation_for_read(self) -> str | None:
        return self.fixed_generation or self.live_generation()

    def _generation_for_write(self) -> str:
        name = self._generation_for_read()
        if name is None:
            name = self.create_generation()
            self.switch_generation(name)
        return name

    def _reader(self) -> _Reader | None:
        name = self._generation_for_read()
        if name is None:
            return None
        with self._readers_lock:
            reader = self._readers.get(name)
            if reader is None:
                path = self._gen_path(name)
                if not (path / "text").is_dir():
                    raise SearchBackendUnavailable(f"index generation {name} is missing under {self.root}")
                try:
                    reader = _Reader(path)
                except (ValueError, OSError) as exc:
                    raise SearchBackendUnavailable(
                        f"cannot open index generation {name} ({path / 'text'}): {exc} (a damaged index, or one"
                        " written by an older version of Evidence Portal, is rebuilt by"
                        " `python manage.py rebuild_index`)"
                    ) from exc
                self._readers = {name: reader}  # the old generation's reader is dropped
            return reader

    def _view(self) -> tuple[Snapshot, tantivy.Searcher] | None:
        reader = self._reader()
        if reader is None:
            return None
        try:
            return reader.current()
        except (ValueError, OSError, json.JSONDecodeError) as exc:
            raise SearchBackendUnavailable(f"cannot read the index: {exc}") from exc

    # --- writing -------------------------------------------------------------------------------
    def index_documents(
        self, documents: Iterable[IndexDocument], *, on_duplicate: DuplicatePolicy = DuplicatePolicy.OVERWRITE
    ) -> IndexReport:
        batch: dict[str, IndexDocument] = {}
        for doc in documents:
            if doc.doc_id in batch and on_duplicate is DuplicatePolicy.FAIL:
                raise DuplicateDocumentError(f"document {doc.doc_id} appears twice in the batch")
            if doc.doc_id in batch and on_duplicate is DuplicatePolicy.SKIP:
                continue
            batch[doc.doc_id] = doc
        report = IndexReport()
        if not batch:
            return report
        with self._write_lock():
            path = self._gen_path(self._generation_for_write())
            state = State.read(path)
            conn = connect(path)
            try:
                existing = self._existing(conn, list(batch))
                dupes = [d for d in batch if d in existing]
                if dupes and on_duplicate is DuplicatePolicy.FAIL:
                    raise DuplicateDocumentError(f"already indexed: {', '.join(sorted(dupes)[:5])}")
                if on_duplicate is DuplicatePolicy.SKIP:
                    for d in dupes:
                        del batch[d]
                    report.skipped = len(dupes)
                vectors = self._checked_vectors(state, batch.values())
                self._write(path, state, conn, batch, existing, vectors)
            finally:
                conn.close()
        report.indexed = len(batch)
        return report

    @staticmethod
    def _existing(conn: Any, doc_ids: list[str]) -> dict[str, tuple[int, str, int]]:
        found: dict[str, tuple[int, str, int]] = {}
        for start in range(0, len(doc_ids), 500):
            chunk = doc_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT doc_id, row, content_hash, has_vector FROM docs WHERE doc_id IN ({marks})"
            for doc_id, row, chash, vec in conn.execute(sql, chunk):
                found[doc_id] = (row, chash, vec)
        return found

    @staticmethod
    def _checked_vectors(state: State, docs: Iterable[IndexDocument]) -> dict[str, np.ndarray]:
        vectors: dict[str, np.ndarray] = {}
        for doc in docs:
            if doc.vector is None:
                continue
            vector = np.asarray(doc.vector, dtype=np.float32)
            check_vector(state, doc.vector_model, vector)
            if not state.dimension:
                state.dimension, state.model = int(vector.shape[0]), doc.vector_model
            vectors[doc.doc_id] = vector
        return vectors

    def _write(
        self,
        path: Path,
        state: State,
        conn: Any,
        batch: dict[str, IndexDocument],
        existing: dict[str, tuple[int, str, int]],
        vectors: dict[str, np.ndarray],
    ) -> None:
        rows: dict[str, int] = {}
        for doc_id in batch:
            if doc_id in existing:
                rows[doc_id] = existing[doc_id][0]
            else:
                rows[doc_id] = state.next_row
                state.next_row += 1
        if vectors:
            matrix = grow_vectors(path, state, state.next_row, state.dimension)
            for doc_id, vector in vectors.items():
                matrix[rows[doc_id]] = vector
            if isinstance(matrix, np.memmap):
                matrix.flush()
            del matrix
        index = tantivy.Index(SCHEMA, path=str(path / "text"), reuse=True)
        writer = index.writer(heap_size=self.heap_size, num_threads=1)
        try:
            for doc_id, doc in batch.items():
                if doc_id in existing:
                    writer.delete_documents("doc_id", doc_id)
                writer.add_document(_tantivy_document(doc, self.title_repeat))
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()
        params = []
        for doc_id, doc in batch.items():
            old = existing.get(doc_id)
            keeps_vector = bool(old and old[2] and old[1] == doc.content_hash and doc.content_hash)
            params.append(
                (
                    doc_id,
                    rows[doc_id],
                    doc.content_hash,
                    doc.evidence_level or "unknown",
                    doc.publication_year,
                    json.dumps(list(doc.publication_types)),
                    int(doc.free_full_text),
                    (doc.language or "").lower(),
                    int(doc.retracted),
                    int(doc_id in vectors or keeps_vector),
                    doc.title,
                    json.dumps(list(doc.mesh_terms)),
                    json.dumps(list(doc.tags)),
                )
            )
        with conn:
            conn.executemany("INSERT OR REPLACE INTO docs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", params)
        state.version += 1
        state.write(path)
        if self.fixed_generation is None:  # a generation being rebuilt gets its index when switched live
            self._refresh_vector_index(path, state, conn, force=False)

    def _refresh_vector_index(self, path: Path, state: State, conn: Any, *, force: bool) -> bool:
        """Build the HNSW index of the generation at ``path`` when due (or ``force``); under the write lock."""
        if not state.dimension or state.next_row < self.ann_threshold:
            return False  # fewer rows than the threshold: fewer vectors too, no need to count them
        if not force and not embedded_ann.is_due(path, rows=state.next_row):
            return False
        (vectors,) = conn.execute("SELECT count(*) FROM docs WHERE has_vector = 1").fetchone()
        if vectors < self.ann_threshold:
            return False
        embedded_ann.build(path, Snapshot.load(path, state))
        return True

    def refresh_vector_index(self, generation: str | None = None, *, force: bool = False) -> bool:
        """Build the HNSW index of ``generation`` (default: the live one) when it holds
        ``ann_threshold`` vectors and the index is missing or stale (or ``force``)."""
        name = generation or self._generation_for_read()
        if name is None:
            return False
        if State.read(self._gen_path(name)).next_row < self.ann_threshold:
            return False  # too small for an approximate index: no need to take the write lock
        with self._write_lock():
            path = self._gen_path(name)
            conn = connect(path)
            try:
                return self._refresh_vector_index(path, State.read(path), conn, force=force)
            finally:
                conn.close()

    def delete_documents(self, doc_ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(doc_ids))
        name = self._generation_for_read()
        if not ids or name is None:
            return 0
        with self._write_lock():
            path = self._gen_path(name)
            state = State.read(path)
            conn = connect(path)
            try:
                existing = self._existing(conn, ids)
                if not existing:
                    return 0
                index = tantivy.Index(SCHEMA, path=str(path / "text"), reuse=True)
                writer = index.writer(heap_size=self.heap_size, num_threads=1)
                try:
                    for doc_id in existing:
                        writer.delete_documents("doc_id", doc_id)
                    writer.commit()
                finally:
                    writer.wait_merging_threads()
                with conn:
                    conn.executemany("DELETE FROM docs WHERE doc_id = ?", [(d,) for d in existing])
                state.version += 1
                state.write(path)
            finally:
                conn.close()
        return len(existing)

    # --- reading -------------------------------------------------------------------------------
    def lexical_search(self, query: LexicalQuery, *, filters: SearchFilters, limit: int) -> list[Hit]:
        view = self._view()
        if view is None or limit <= 0:
            return []
        _, searcher = view
        built = build_lexical_query(query, filters, self.field_weights)
        if built is None:
            return []
        result = searcher.search(built, limit, count=False)
        return [Hit(searcher.doc(address)["doc_id"][0], float(score)) for score, address in result.hits]

    def vector_search(self, vector: Sequence[float], *, filters: SearchFilters, limit: int) -> list[Hit]:
        view = self._view()
        if view is None or limit <= 0:
            return []
        snap, _ = view
        if snap.vectors is None:
            return []
        q = np.asarray(vector, dtype=np.float32)
        if q.shape != (snap.dimension,):
            raise SearchBackendError(f"query vector has shape {q.shape}, the index holds {snap.dimension} dims")
        mask = snap.mask(filters) & snap.has_vector
        reader = self._reader()
        assert reader is not None
        rows, scores = embedded_ann.search(
            reader.path, snap, q, mask, limit, threshold=self.ann_threshold, exact_below=self.ann_exact_below
        )
        return [Hit(snap.doc_ids[r] or "", float(s)) for r, s in zip(rows, scores, strict=True)]

    def count(self, *, filters: SearchFilters) -> int:
        view = self._view()
        return 0 if view is None else int(view[0].mask(filters).sum())

    def facet_counts(self, doc_ids: Sequence[str]) -> FacetCounts:
        facets: FacetCounts = {k: {} for k in ("evidence_level", "publication_year", "publication_type")}
        facets["free_full_text"] = {}
        facets["language"] = {}
        facets.update(tag_facets(()))
        view = self._view()
        if view is None:
            return facets
        snap = view[0]
        rows = np.asarray(snap.rows_for(dict.fromkeys(doc_ids)), dtype=np.int64)
        if rows.size == 0:
            return facets
        facets["evidence_level"] = snap.level.counts(rows)
        facets["language"] = {k: v for k, v in snap.language.counts(rows).items() if k}
        years, year_counts = np.unique(snap.year[rows], return_counts=True)
        facets["publication_year"] = {str(int(y)): int(n) for y, n in zip(years, year_counts, strict=True) if y >= 0}
        types = Counter(t for r in rows.tolist() for t in snap.pubtypes[r])
        facets["publication_type"] = dict(types)
        free = int(np.count_nonzero(snap.free_full_text[rows]))
        facets["free_full_text"] = {k: v for k, v in (("yes", free), ("no", rows.size - free)) if v}
        facets.update(tag_facets(snap.tags[r] for r in rows.tolist()))
        return facets

    def document_ids(self) -> set[str]:
        view = self._view()
        return set() if view is None else set(view[0].row_of)

    def content_hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        view = self._view()
        if view is None:
            return {}
        hashes = view[0].content_hash
        return {d: hashes[d] for d in doc_ids if d in hashes}

    def pending_vector_ids(self) -> set[str]:
        """Return indexed ids that have no vector yet (embedded backend only)."""
        view = self._view()
        if view is None:
            return set()
        snap = view[0]
        return {snap.doc_ids[r] or "" for r in np.nonzero(snap.present & ~snap.has_vector)[0]}

    def vector_space(self) -> tuple[str, int] | None:
        view = self._view()
        if view is None or not view[0].dimension or view[0].damaged:
            return None
        return view[0].model, view[0].dimension

    def suggest_terms(self, prefix: str, *, limit: int) -> list[str]:
        """Return MeSH terms then titles starting with ``prefix`` (case-insensitive)."""
        name = self._generation_for_read()
        if name is None or not prefix.strip():
            return []
        conn = connect(self._gen_path(name))
        try:
            like = prefix.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found: dict[str, None] = {}
            mesh_sql = (
                "SELECT DISTINCT value FROM docs, json_each(docs.mesh)"
                " WHERE lower(value) LIKE ? ESCAPE '\\' ORDER BY value LIMIT ?"
            )
            for (term,) in conn.execute(mesh_sql, (like, limit)):
                found.setdefault(term, None)
            title_sql = "SELECT title FROM docs WHERE lower(title) LIKE ? ESCAPE '\\' ORDER BY title LIMIT ?"
            for (title,) in conn.execute(title_sql, (like, limit)):
                found.setdefault(title, None)
        finally:
            conn.close()
        return list(found)[:limit]

    def health(self) -> Health:
        try:
            view = self._view()
        except SearchBackendUnavailable as exc:
            return Health(ok=False, detail=str(exc))
        if view is None:
            return Health(ok=True, detail="no index generation yet")
        snap = view[0]
        documents, vectors = int(snap.present.sum()), int((snap.present & snap.has_vector).sum())
        return Health(ok=True, detail=snap.damaged, documents=documents, vectors=vectors)

    # --- generations ---------------------------------------------------------------------------
    def create_generation(self) -> str:
        name = f"g{time.time_ns()}"
        try:
            self._init_generation(name)
        except BaseException:
            shutil.rmtree(self._gen_path(name), ignore_errors=True)  # e.g. a full disk: leave nothing
            raise
        return name

    def generation_backend(self, generation: str) -> EmbeddedBackend:
        if not (self._gen_path(generation) / "text").is_dir():
            raise SearchBackendError(f"no generation {generation}")
        return EmbeddedBackend(self.alias, **{**self.options, "generation": generation})

    def switch_generation(self, generation: str) -> None:
        if not (self._gen_path(generation) / "text").is_dir():
            raise SearchBackendError(f"no generation {generation}")
        self.refresh_vector_index(generation)  # a large rebuilt generation goes live with its HNSW index
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"CURRENT.{os.getpid()}.tmp"
        tmp.write_text(generation)
        os.replace(tmp, self.root / "CURRENT")

    def drop_generation(self, generation: str) -> None:
        if generation == self.live_generation():
            raise SearchBackendError(f"generation {generation} is live; switch first")
        shutil.rmtree(self._gen_path(generation), ignore_errors=True)
        with self._readers_lock:
            self._readers.pop(generation, None)

    def generations(self) -> list[str]:
        base = self.root / "generations"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / "text").is_dir())

    def live_generation(self) -> str | None:
        try:
            name = (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        return name or None
