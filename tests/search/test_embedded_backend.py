"""The backend contract on the embedded (tantivy + numpy) backend, plus what only it does."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from search.backends import embedded_ann
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

    def vector_docs(self, vectors: np.ndarray, start: int = 0) -> list:  # type: ignore[type-arg]
        return [
            self.doc(
                f"v:{start + i}",
                f"Doc {start + i}",
                vector=tuple(v.tolist()),
                vector_model=MODEL,
                publication_year=2000 + (start + i) % 20,
            )
            for i, v in enumerate(vectors)
        ]

    @staticmethod
    def unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
        vectors = rng.normal(size=(count, 16)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def test_approximate_index_above_threshold_matches_exact_top_hits(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(7)
        ann = EmbeddedBackend("ann", path=str(tmp_path / "ann"), ann_threshold=100, ann_exact_below=0)
        vectors = self.unit_rows(rng, 400)
        ann.index_documents(self.vector_docs(vectors))
        generation = tmp_path / "ann" / "generations" / str(ann.live_generation())
        assert embedded_ann.built_rows(generation) == 400  # built by the writer, not by a reader
        query = vectors[5]
        hits = ann.vector_search(query, filters=SearchFilters(), limit=10)
        assert hits[0].doc_id == "v:5"
        filtered = ann.vector_search(query, filters=SearchFilters(year_from=2019), limit=10)
        assert len(filtered) == 10
        assert all(int(h.doc_id.split(":")[1]) % 20 == 19 for h in filtered)

    def test_records_added_after_the_hnsw_build_are_found_before_the_rebuild(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(8)
        ann = EmbeddedBackend("ann", path=str(tmp_path / "ann"), ann_threshold=100, ann_exact_below=0)
        ann.index_documents(self.vector_docs(self.unit_rows(rng, 500)))
        generation = tmp_path / "ann" / "generations" / str(ann.live_generation())
        late = self.unit_rows(rng, 20)
        ann.index_documents(self.vector_docs(late, start=500))
        assert embedded_ann.built_rows(generation) == 500  # 4% growth: not rebuilt yet
        assert ann.vector_search(late[3], filters=SearchFilters(), limit=5)[0].doc_id == "v:503"
        ann.index_documents(self.vector_docs(self.unit_rows(rng, 100), start=520))
        assert embedded_ann.built_rows(generation) == 620  # past the rebuild fraction: rebuilt

    def test_re_embedded_and_deleted_records_are_scored_by_their_current_state(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(9)
        ann = EmbeddedBackend("ann", path=str(tmp_path / "ann"), ann_threshold=100, ann_exact_below=0)
        vectors = self.unit_rows(rng, 300)
        ann.index_documents(self.vector_docs(vectors))
        moved = self.vector_docs(-vectors[7:8], start=7)[0]  # v:7 re-embedded far from where it was
        ann.index_documents([dataclasses.replace(moved, content_hash="new text")])
        hits = ann.vector_search(vectors[7], filters=SearchFilters(), limit=300)
        assert "v:7" not in [h.doc_id for h in hits[:10]]
        assert next(h.score for h in hits if h.doc_id == "v:7") < -0.99  # its new vector, not the graph's
        ann.delete_documents(["v:11"])
        assert "v:11" not in [h.doc_id for h in ann.vector_search(vectors[11], filters=SearchFilters(), limit=10)]

    def test_a_rebuilt_generation_goes_live_with_its_hnsw_index(self, tmp_path: Path) -> None:
        rng = np.random.default_rng(10)
        ann = EmbeddedBackend("ann", path=str(tmp_path / "ann"), ann_threshold=100, ann_exact_below=0)
        name = ann.create_generation()
        filling = ann.generation_backend(name)
        filling.index_documents(self.vector_docs(self.unit_rows(rng, 150)))
        assert embedded_ann.built_rows(tmp_path / "ann" / "generations" / name) == 0  # not while filling
        ann.switch_generation(name)
        assert embedded_ann.built_rows(tmp_path / "ann" / "generations" / name) == 150

    def test_missing_generation_directory_reports_unavailable(self, backend: EmbeddedBackend, tmp_path: Path) -> None:
        backend.index_documents(self.corpus())
        import shutil

        shutil.rmtree(tmp_path / "index" / "generations")
        fresh = EmbeddedBackend("fresh", path=str(tmp_path / "index"))
        assert not fresh.health().ok


def test_unit_helper_is_normalised() -> None:
    assert abs(sum(v * v for v in unit(8, (0, 3.0), (1, 4.0))) - 1.0) < 1e-9
