"""The backend contract on the embedded (tantivy + numpy) backend, plus what only it does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from search.backends.base import SearchBackendError, SearchFilters
from search.backends.embedded import EmbeddedBackend
from tests.search.backend_contract import MODEL, BackendContract, unit


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[EmbeddedBackend]:
    yield EmbeddedBackend("test", path=str(tmp_path / "index"))


class TestEmbeddedBackendContract(BackendContract):
    def test_vector_from_another_model_is_refused(self, backend: EmbeddedBackend) -> None:
        backend.index_documents(self.corpus())
        other = self.doc("o:1", "Other model", vector=self.vec((0, 1.0)), vector_model="another-model")
        with pytest.raises(SearchBackendError):
            backend.index_documents([other])

    def test_second_process_view_sees_new_commits(self, backend: EmbeddedBackend, tmp_path: Path) -> None:
        reader = EmbeddedBackend("reader", path=str(tmp_path / "index"))
        backend.index_documents(self.corpus()[:1])
        assert self.search(reader, "aspirin") == ["t:1"]
        backend.index_documents([self.doc("n:1", "Aspirin again, newer")])
        assert set(self.search(reader, "aspirin")) == {"t:1", "n:1"}

    def test_unchanged_document_keeps_its_vector_when_reindexed_without_one(self, backend: EmbeddedBackend) -> None:
        corpus = self.corpus()
        backend.index_documents(corpus)
        first = corpus[0]
        backend.index_documents([self.doc(first.doc_id, first.title, first.abstract, content_hash=first.content_hash)])
        assert backend.pending_vector_ids() == set()
        backend.index_documents([self.doc(first.doc_id, "Changed title", content_hash="changed")])
        assert backend.pending_vector_ids() == {first.doc_id}

    def test_approximate_index_above_threshold_matches_exact_top_hits(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(7)
        ann = EmbeddedBackend("ann", path=str(tmp_path / "ann"), ann_threshold=100)
        vectors = rng.normal(size=(400, 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        docs = [
            self.doc(
                f"v:{i}",
                f"Doc {i}",
                vector=tuple(vectors[i].tolist()),
                vector_model=MODEL,
                publication_year=2000 + i % 20,
            )
            for i in range(400)
        ]
        ann.index_documents(docs)
        query = vectors[5]
        hits = ann.vector_search(query, filters=SearchFilters(), limit=10)
        assert hits[0].doc_id == "v:5"
        filtered = ann.vector_search(query, filters=SearchFilters(year_from=2019), limit=10)
        assert len(filtered) == 10
        assert all(int(h.doc_id.split(":")[1]) % 20 == 19 for h in filtered)

    def test_missing_generation_directory_reports_unavailable(self, backend: EmbeddedBackend, tmp_path: Path) -> None:
        backend.index_documents(self.corpus())
        import shutil

        shutil.rmtree(tmp_path / "index" / "generations")
        fresh = EmbeddedBackend("fresh", path=str(tmp_path / "index"))
        assert not fresh.health().ok


def test_unit_helper_is_normalised() -> None:
    assert abs(sum(v * v for v in unit(8, (0, 3.0), (1, 4.0))) - 1.0) < 1e-9
