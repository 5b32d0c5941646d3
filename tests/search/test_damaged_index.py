"""A truncated or corrupt embedded index file is found at open, named with the command that
rebuilds it, and the portal keeps answering: by text when the vector file is damaged, by exact
vector search when the HNSW file is."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command

from search.backends import embedded_ann, get_backend, reset_backends
from search.backends.base import LexicalQuery, SearchFilters
from search.backends.embedded import EmbeddedBackend
from search.services import search_records
from search.types import SearchRequest
from tests.factories import EvidenceRecordFactory
from tests.search.backend_contract import MODEL


def _docs(count: int) -> list[Any]:
    from search.documents import IndexDocument

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(count, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        IndexDocument(
            doc_id=f"v:{i}",
            title=f"Statin trial number {i}",
            vector=tuple(vector.tolist()),
            vector_model=MODEL,
        )
        for i, vector in enumerate(vectors)
    ]


def _generation(root: Path, backend: EmbeddedBackend) -> Path:
    return root / "generations" / str(backend.live_generation())


def test_truncated_vector_file_is_named_and_text_search_goes_on(tmp_path: Path, caplog: Any) -> None:
    root = tmp_path / "index"
    writer = EmbeddedBackend("w", path=str(root))
    writer.index_documents(_docs(50))
    (vector_file,) = _generation(root, writer).glob("vectors-*.npy")
    with vector_file.open("r+b") as handle:
        handle.truncate(vector_file.stat().st_size // 3)

    reader = EmbeddedBackend("r", path=str(root))  # a freshly started web process
    with caplog.at_level(logging.ERROR):
        hits = reader.lexical_search(LexicalQuery(terms=("statin",)), filters=SearchFilters(), limit=100)
    assert len(hits) == 50
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert str(vector_file) in messages and "python manage.py rebuild_index" in messages
    assert reader.vector_space() is None  # so the search service does not embed the query
    assert reader.vector_search([0.25] * 16, filters=SearchFilters(), limit=5) == []
    health = reader.health()
    assert health.ok and str(vector_file) in health.detail and health.documents == 50 and health.vectors == 0


def test_corrupt_hnsw_file_falls_back_to_exact_vector_search(tmp_path: Path, caplog: Any) -> None:
    root = tmp_path / "index"
    writer = EmbeddedBackend("w", path=str(root), ann_threshold=100, ann_exact_below=0)
    docs = _docs(300)
    writer.index_documents(docs)
    ann_file = _generation(root, writer) / "ann.usearch"
    assert embedded_ann.built_rows(ann_file.parent) == 300
    ann_file.write_bytes(b"\x00garbage" * 100)
    embedded_ann._ann_cache.clear()

    reader = EmbeddedBackend("r", path=str(root), ann_threshold=100, ann_exact_below=0)
    with caplog.at_level(logging.ERROR):
        hits = reader.vector_search(docs[7].vector, filters=SearchFilters(), limit=5)
    assert hits[0].doc_id == "v:7"
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert str(ann_file) in messages and "python manage.py rebuild_index" in messages


@pytest.mark.slow
@pytest.mark.django_db
def test_portal_search_answers_by_text_until_the_rebuild(settings: Any, tmp_path: Path) -> None:
    from search.indexing import embed_pending, records_index

    root = tmp_path / "index"
    settings.SEARCH_BACKENDS = {
        **settings.SEARCH_BACKENDS,
        "embedded": {"BACKEND": "search.backends.embedded.EmbeddedBackend", "OPTIONS": {"path": str(root)}},
    }
    settings.SEARCH_DEFAULT_BACKEND = "embedded"
    reset_backends()
    try:
        records = [EvidenceRecordFactory(title=f"Statin trial {n}", evidence_level="rct") for n in range(4)]
        records_index(record_ids=[record.pk for record in records])
        assert embed_pending(limit=100) == 4
        generation = next((root / "generations").iterdir())
        vector_files = list(generation.glob("vectors-*.npy"))
        assert vector_files
        for vector_file in vector_files:
            vector_file.write_bytes(b"\x93NUMPY broken")
        reset_backends()

        page = search_records(SearchRequest(text="statin trial"))
        assert page.total == 4

        call_command("rebuild_index", verbosity=0)
        reset_backends()
        assert search_records(SearchRequest(text="statin trial")).total == 4
        assert not get_backend().health().detail
    finally:
        reset_backends()
