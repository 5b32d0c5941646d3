"""On-disk state of one embedded index generation, beside its tantivy text index.

- ``meta.sqlite3``: one row per document (row number, content hash, filter fields, vector flag).
- ``vectors-<capacity>.npy``: a float32 (capacity, dim) matrix, memory-mapped; a document's
  vector lives at its row. Grown by copying into a larger file (readers re-open it).
- ``state.json``: version, vector file, model and dimension; replaced atomically after every
  write so reader processes notice a new commit with one small read.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from search.backends.base import SearchBackendError, SearchFilters

logger = logging.getLogger(__name__)
REBUILD_COMMAND = "python manage.py rebuild_index"

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT PRIMARY KEY,
    row INTEGER NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    level TEXT NOT NULL,
    year INTEGER,
    pubtypes TEXT NOT NULL,
    free_full_text INTEGER NOT NULL,
    language TEXT NOT NULL,
    retracted INTEGER NOT NULL,
    has_vector INTEGER NOT NULL,
    title TEXT NOT NULL,
    mesh TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]'
);
"""


@dataclass
class State:
    version: int = 0
    next_row: int = 0
    vector_file: str = ""
    capacity: int = 0
    model: str = ""
    dimension: int = 0

    @classmethod
    def read(cls, path: Path) -> State:
        try:
            data = json.loads((path / "state.json").read_text())
        except FileNotFoundError:
            return cls()
        return cls(**data)

    def write(self, path: Path) -> None:
        tmp = path / f"state.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(self.__dict__))
        os.replace(tmp, path / "state.json")


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path / "meta.sqlite3", timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    return conn


def open_vectors(path: Path, state: State, *, writable: bool) -> np.ndarray | None:
    if not state.vector_file:
        return None
    if writable:
        return np.load(path / state.vector_file, mmap_mode="r+")
    return np.load(path / state.vector_file, mmap_mode="r")


def grow_vectors(path: Path, state: State, needed_rows: int, dimension: int) -> np.ndarray:
    """Return a writable matrix with at least ``needed_rows`` rows, copying into a bigger file."""
    current = open_vectors(path, state, writable=True)
    if current is not None and current.shape[0] >= needed_rows:
        return current
    capacity = max(1024, needed_rows, state.capacity * 2)
    name = f"vectors-{capacity}-{state.version + 1}.npy"
    grown = np.lib.format.open_memmap(path / name, mode="w+", dtype=np.float32, shape=(capacity, dimension))
    if current is not None:
        grown[: current.shape[0]] = current
        del current
    old = state.vector_file
    state.vector_file, state.capacity = name, capacity
    if old:
        # Readers that still map the old file keep their pages (unlinked files stay readable).
        (path / old).unlink(missing_ok=True)
    return grown


class Categorical:
    """A string column stored as small integer codes: filtering a million rows by value is an
    integer comparison (an object array of strings took ~100 ms per filter at 1M rows)."""

    def __init__(self, size: int, missing: str) -> None:
        self.names: list[str] = [missing]
        self._code_of: dict[str, int] = {missing: 0}
        self.codes = np.zeros(size, dtype=np.int32)

    def set(self, row: int, value: str) -> None:
        code = self._code_of.get(value)
        if code is None:
            code = self._code_of[value] = len(self.names)
            self.names.append(value)
        self.codes[row] = code

    def __getitem__(self, row: int) -> str:
        return self.names[self.codes[row]]

    def counts(self, rows: np.ndarray) -> dict[str, int]:
        """Return {value: number of ``rows`` holding it}, values that occur only."""
        tally = np.bincount(self.codes[rows], minlength=len(self.names))
        return {self.names[code]: int(n) for code, n in enumerate(tally.tolist()) if n}

    def isin(self, values: Iterable[str]) -> np.ndarray:
        wanted = [self._code_of[v] for v in values if v in self._code_of]
        return np.isin(self.codes, np.asarray(wanted, dtype=np.int32))


@dataclass
class Snapshot:
    """Everything a reader needs for one version, as numpy arrays indexed by row."""

    version: int
    doc_ids: list[str | None]
    row_of: dict[str, int]
    present: np.ndarray
    has_vector: np.ndarray
    level: Categorical
    year: np.ndarray
    free_full_text: np.ndarray
    language: Categorical
    retracted: np.ndarray
    pubtypes: list[tuple[str, ...]]
    tags: list[tuple[str, ...]]
    content_hash: dict[str, str]
    vectors: np.ndarray | None
    model: str
    dimension: int
    pubtype_rows: dict[str, np.ndarray] = field(default_factory=dict)
    tag_rows: dict[str, np.ndarray] = field(default_factory=dict)
    # Why the vectors could not be opened (a truncated or corrupt file); searches are lexical.
    damaged: str = ""

    @classmethod
    def load(cls, path: Path, state: State) -> Snapshot:
        n = state.next_row
        doc_ids: list[str | None] = [None] * n
        present = np.zeros(n, dtype=bool)
        has_vector = np.zeros(n, dtype=bool)
        level = Categorical(n, "unknown")
        year = np.full(n, -1, dtype=np.int32)
        ftt = np.zeros(n, dtype=bool)
        language = Categorical(n, "")
        retracted = np.zeros(n, dtype=bool)
        pubtypes: list[tuple[str, ...]] = [()] * n
        tags: list[tuple[str, ...]] = [()] * n
        by_tag: dict[str, list[int]] = {}
        hashes: dict[str, str] = {}
        by_type: dict[str, list[int]] = {}
        conn = connect(path)
        try:
            rows = conn.execute(
                "SELECT doc_id, row, content_hash, level, year, pubtypes, free_full_text, language, retracted,"
                " has_vector, tags FROM docs"
            )
            for doc_id, row, chash, lvl, yr, ptypes, free, lang, retr, vec, doc_tags in rows:
                if row >= n:
                    continue  # written after this state was read; the next version shows it
                doc_ids[row] = doc_id
                present[row] = True
                has_vector[row] = bool(vec)
                level.set(row, lvl)
                year[row] = -1 if yr is None else yr
                ftt[row] = bool(free)
                language.set(row, lang)
                retracted[row] = bool(retr)
                types = tuple(json.loads(ptypes))
                pubtypes[row] = types
                for t in types:
                    by_type.setdefault(t.lower(), []).append(row)
                if doc_tags != "[]":
                    tags[row] = tuple(json.loads(doc_tags))
                    for tag in tags[row]:
                        by_tag.setdefault(tag, []).append(row)
                hashes[doc_id] = chash
        finally:
            conn.close()
        damaged = ""
        try:
            vectors = open_vectors(path, state, writable=False)
        except (ValueError, OSError, EOFError) as exc:
            # A truncated or corrupt vector file: text search still works, so serve it.
            vectors = None
            has_vector[:] = False
            damaged = (
                f"vector file {path / state.vector_file} is damaged ({exc}); searching by text only"
                f" until the index is rebuilt with `{REBUILD_COMMAND}`"
            )
            logger.error("%s", damaged)
        if vectors is not None:
            has_vector &= np.arange(n) < vectors.shape[0]
        return cls(
            version=state.version,
            doc_ids=doc_ids,
            row_of={d: i for i, d in enumerate(doc_ids) if d is not None},
            present=present,
            has_vector=has_vector,
            level=level,
            year=year,
            free_full_text=ftt,
            language=language,
            retracted=retracted,
            pubtypes=pubtypes,
            tags=tags,
            content_hash=hashes,
            vectors=vectors,
            model=state.model,
            dimension=state.dimension,
            pubtype_rows={t: np.asarray(r, dtype=np.int64) for t, r in by_type.items()},
            tag_rows={t: np.asarray(r, dtype=np.int64) for t, r in by_tag.items()},
            damaged=damaged,
        )

    def mask(self, filters: SearchFilters) -> np.ndarray:
        """Return the boolean mask of present rows that pass ``filters``."""
        m = self.present.copy()
        if filters.evidence_levels:
            m &= self.level.isin(filters.evidence_levels)
        if filters.year_from is not None:
            m &= self.year >= filters.year_from
        if filters.year_to is not None:
            m &= (self.year <= filters.year_to) & (self.year >= 0)
        if filters.publication_types:
            allowed = np.zeros_like(m)
            for t in filters.publication_types:
                rows = self.pubtype_rows.get(t.lower())
                if rows is not None:
                    allowed[rows] = True
            m &= allowed
        if filters.free_full_text is not None:
            m &= self.free_full_text == filters.free_full_text
        if filters.languages:
            m &= self.language.isin([lang.lower() for lang in filters.languages])
        if not filters.include_retracted:
            m &= ~self.retracted
        for group in filters.tag_groups:
            allowed = np.zeros_like(m)
            for tag in group:
                rows = self.tag_rows.get(tag)
                if rows is not None:
                    allowed[rows] = True
            m &= allowed
        return m

    def rows_for(self, doc_ids: Iterable[str]) -> list[int]:
        return [r for r in (self.row_of.get(d) for d in doc_ids) if r is not None]


def check_vector(state: State, model: str, vector: np.ndarray) -> None:
    """Raise SearchBackendError when a vector's model or dimension differs from the index's."""
    if vector.ndim != 1:
        raise SearchBackendError(f"vector must be one-dimensional, got shape {vector.shape}")
    if state.dimension and vector.shape[0] != state.dimension:
        raise SearchBackendError(f"vector dimension {vector.shape[0]} does not match the index ({state.dimension})")
    if state.model and model and model != state.model:
        raise SearchBackendError(f"vector model {model!r} does not match the index ({state.model!r})")
    if not np.all(np.isfinite(vector)):
        raise SearchBackendError("vector holds NaN or infinity")
