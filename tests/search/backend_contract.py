"""The contract every SearchBackend honours. Subclass ``BackendContract`` in a backend's test
module and provide a ``backend`` fixture that yields a fresh, empty backend.

Vectors here are hand-made unit vectors (``vector_dim`` wide, default 384 like the default
model), so nearest-neighbour order is known exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from search import clinical_queries
from search.backends.base import (
    DuplicateDocumentError,
    DuplicatePolicy,
    LexicalQuery,
    SearchBackend,
    SearchBackendError,
    SearchFilters,
)
from search.documents import IndexDocument

MODEL = "contract-test-model"


def unit(dim: int, *weights: tuple[int, float]) -> tuple[float, ...]:
    """Return a unit vector with the given (axis, weight) components."""
    values = [0.0] * dim
    for axis, weight in weights:
        values[axis] = weight
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return tuple(v / norm for v in values)


class BackendContract:
    vector_dim = 384

    # --- helpers ---------------------------------------------------------------------------
    def doc(self, doc_id: str, title: str, abstract: str = "", **fields: object) -> IndexDocument:
        values: dict[str, object] = {"content_hash": f"hash-{doc_id}-{title}"}
        values.update(fields)
        return IndexDocument(doc_id=doc_id, title=title, abstract=abstract, **values)  # type: ignore[arg-type]

    def vec(self, *weights: tuple[int, float]) -> tuple[float, ...]:
        return unit(self.vector_dim, *weights)

    def corpus(self) -> list[IndexDocument]:
        d = self.vector_dim
        return [
            self.doc(
                "t:1",
                "Aspirin for secondary prevention of stroke",
                "A randomised trial of aspirin in patients after ischaemic stroke.",
                evidence_level="rct",
                publication_year=2019,
                publication_types=("Randomized Controlled Trial",),
                language="eng",
                free_full_text=True,
                mesh_terms=("Aspirin", "Stroke"),
                vector=unit(d, (0, 1.0)),
                vector_model=MODEL,
            ),
            self.doc(
                "t:2",
                "Statins and heart failure outcomes",
                "Cohort study of statin use in heart failure with reduced ejection fraction.",
                evidence_level="cohort",
                publication_year=2015,
                publication_types=("Journal Article", "Observational Study"),
                language="eng",
                vector=unit(d, (1, 1.0)),
                vector_model=MODEL,
            ),
            self.doc(
                "t:3",
                "Exercise training in chronic heart failure: a systematic review",
                "Meta-analysis of exercise programmes; failure of the heart was not worsened.",
                evidence_level="systematic_review",
                publication_year=2022,
                publication_types=("Systematic Review",),
                language="eng",
                free_full_text=True,
                vector=unit(d, (1, 0.9), (0, 0.1)),
                vector_model=MODEL,
            ),
            self.doc(
                "t:4",
                "Aspirin dosing in children: a retracted report",
                "Running trials of aspirin doses in children.",
                evidence_level="case_series",
                publication_year=2008,
                publication_types=("Case Reports",),
                language="fre",
                retracted=True,
                vector=unit(d, (0, 0.8), (2, 0.2)),
                vector_model=MODEL,
            ),
        ]

    def ids(self, hits: Sequence[object]) -> list[str]:
        return [h.doc_id for h in hits]  # type: ignore[attr-defined]

    def search(self, backend: SearchBackend, text: str, **filters: object) -> list[str]:
        terms = tuple(text.split())
        return self.ids(backend.lexical_search(LexicalQuery(terms=terms), filters=SearchFilters(**filters), limit=10))  # type: ignore[arg-type]

    # --- writing and lexical search -----------------------------------------------------------
    def test_indexed_document_is_found_by_a_title_word(self, backend: SearchBackend) -> None:
        report = backend.index_documents(self.corpus())
        assert report.indexed == 4
        assert set(self.search(backend, "statins")) == {"t:2"}

    def test_search_stems_english_words(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        assert "t:4" in self.search(backend, "run")
        assert "t:2" in self.search(backend, "statin")

    def test_title_match_outranks_abstract_only_match(self, backend: SearchBackend) -> None:
        backend.index_documents(
            [
                self.doc("a:1", "Unrelated words here", "warfarin appears in this abstract only"),
                self.doc("a:2", "Warfarin", "nothing of note in this abstract text"),
            ]
        )
        assert self.search(backend, "warfarin") == ["a:2", "a:1"]

    def test_quoted_phrase_requires_adjacent_words(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        hits = backend.lexical_search(LexicalQuery(phrases=("heart failure",)), filters=SearchFilters(), limit=10)
        assert set(self.ids(hits)) == {"t:2", "t:3"}
        hits = backend.lexical_search(LexicalQuery(phrases=("failure heart",)), filters=SearchFilters(), limit=10)
        assert self.ids(hits) == []

    def test_no_match_returns_empty_list(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        assert self.search(backend, "zzzqqq") == []

    def test_empty_index_answers_with_nothing(self, backend: SearchBackend) -> None:
        assert self.search(backend, "aspirin") == []
        assert backend.vector_search(self.vec((0, 1.0)), filters=SearchFilters(), limit=5) == []
        assert backend.count(filters=SearchFilters()) == 0
        assert backend.document_ids() == set()

    @pytest.mark.parametrize(
        "text",
        ['"', "*", "NEAR(", "AND OR", "a" * 10_000, "🩺💊", "'; DROP TABLE x; --", "((a)", "title:", "\\", "-", "+"],
    )
    def test_hostile_terms_never_raise(self, backend: SearchBackend, text: str) -> None:
        backend.index_documents(self.corpus())
        query = LexicalQuery(terms=(text,), phrases=(text,))
        assert isinstance(backend.lexical_search(query, filters=SearchFilters(), limit=10), list)

    # --- duplicates and deletes ---------------------------------------------------------------
    def test_overwrite_replaces_the_document(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        backend.index_documents([self.doc("t:2", "Beta blockers", "no statins mentioned now")])
        assert self.search(backend, "blockers") == ["t:2"]
        assert self.search(backend, "ejection") == []
        assert len(backend.document_ids()) == 4

    def test_skip_keeps_the_first_version(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        report = backend.index_documents([self.doc("t:2", "Beta blockers")], on_duplicate=DuplicatePolicy.SKIP)
        assert report.skipped == 1
        assert self.search(backend, "blockers") == []

    def test_fail_policy_raises_and_writes_nothing(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        with pytest.raises(DuplicateDocumentError):
            backend.index_documents(
                [self.doc("n:1", "Brand new"), self.doc("t:2", "Beta blockers")], on_duplicate=DuplicatePolicy.FAIL
            )
        assert "n:1" not in backend.document_ids()

    def test_delete_removes_documents_and_ignores_missing_ids(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        assert backend.delete_documents(["t:1", "missing:9"]) == 1
        assert "t:1" not in self.search(backend, "aspirin")
        assert backend.delete_documents(["missing:9"]) == 0
        assert backend.document_ids() == {"t:2", "t:3", "t:4"}

    # --- filters inside retrieval -------------------------------------------------------------
    def test_filters_apply_inside_lexical_search(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        assert self.search(backend, "heart", evidence_levels=("cohort",)) == ["t:2"]
        assert self.search(backend, "heart", year_from=2020) == ["t:3"]
        assert set(self.search(backend, "heart aspirin", year_to=2016)) == {"t:2", "t:4"}
        assert self.search(backend, "heart", publication_types=("Systematic Review",)) == ["t:3"]
        assert set(self.search(backend, "aspirin heart", free_full_text=True)) == {"t:1", "t:3"}
        assert self.search(backend, "aspirin", languages=("fre",)) == ["t:4"]
        assert self.search(backend, "aspirin", include_retracted=False) == ["t:1"]

    def test_filtered_lexical_page_is_full(self, backend: SearchBackend) -> None:
        docs = [
            self.doc(f"f:{i}", f"Asthma study {i}", evidence_level="rct" if i % 10 == 0 else "cohort")
            for i in range(60)
        ]
        backend.index_documents(docs)
        hits = backend.lexical_search(
            LexicalQuery(terms=("asthma",)), filters=SearchFilters(evidence_levels=("rct",)), limit=5
        )
        assert len(hits) == 5
        assert all(int(h.doc_id.split(":")[1]) % 10 == 0 for h in hits)

    def test_count_applies_filters(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        assert backend.count(filters=SearchFilters()) == 4
        assert backend.count(filters=SearchFilters(evidence_levels=("rct", "cohort"))) == 2
        assert backend.count(filters=SearchFilters(include_retracted=False)) == 3

    def recommendations(self) -> list[IndexDocument]:
        d = self.vector_dim
        return [
            self.doc(
                "rec:1",
                "Screening for lung cancer",
                "Annual screening with low-dose computed tomography in adults aged 50 to 80 years.",
                evidence_level="guideline",
                tags=("kind:recommendation", "issuer:USPSTF", "strength:strong"),
                vector=unit(d, (3, 1.0)),
                vector_model=MODEL,
            ),
            self.doc(
                "rec:2",
                "Lung cancer screening in smokers",
                "Consider screening for lung cancer in former smokers.",
                evidence_level="guideline",
                tags=("kind:recommendation", "issuer:VA/DoD", "strength:conditional"),
                vector=unit(d, (3, 0.9), (4, 0.1)),
                vector_model=MODEL,
            ),
            self.doc(
                "art:1",
                "Lung cancer screening trial",
                "Randomised trial of lung cancer screening.",
                evidence_level="rct",
                tags=("kind:article",),
                vector=unit(d, (3, 0.8), (4, 0.2)),
                vector_model=MODEL,
            ),
        ]

    def test_tag_groups_filter_inside_both_retrievers(self, backend: SearchBackend) -> None:
        backend.index_documents(self.recommendations())
        assert set(self.search(backend, "lung", tag_groups=(("kind:recommendation",),))) == {"rec:1", "rec:2"}
        strong = (("kind:recommendation",), ("strength:strong",))
        assert self.search(backend, "lung", tag_groups=strong) == ["rec:1"]
        either = (("issuer:USPSTF", "issuer:VA/DoD"),)
        assert set(self.search(backend, "lung", tag_groups=either)) == {"rec:1", "rec:2"}
        assert self.search(backend, "lung", tag_groups=(("issuer:nobody",),)) == []
        hits = backend.vector_search(
            self.vec((3, 1.0)), filters=SearchFilters(tag_groups=(("strength:conditional",),)), limit=5
        )
        assert self.ids(hits) == ["rec:2"]
        assert backend.count(filters=SearchFilters(tag_groups=(("kind:article",),))) == 1

    def test_tags_are_counted_as_facets(self, backend: SearchBackend) -> None:
        backend.index_documents(self.recommendations())
        facets = backend.facet_counts(["rec:1", "rec:2", "art:1"])
        assert facets["kind"] == {"recommendation": 2, "article": 1}
        assert facets["issuer"] == {"USPSTF": 1, "VA/DoD": 1}
        assert facets["strength"] == {"strong": 1, "conditional": 1}

    def test_clinical_query_filter_inside_both_retrievers(self, backend: SearchBackend) -> None:
        def fields_doc(doc_id: str, title: str, abstract: str, types: tuple[str, ...], axis: int) -> IndexDocument:
            record = clinical_queries.RecordFields.build(title=title, abstract=abstract, publication_types=types)
            tags = tuple(clinical_queries.tag_of(k) for k in clinical_queries.matching_filters(record))
            return self.doc(
                doc_id,
                title,
                abstract,
                publication_types=types,
                tags=tags,
                vector=self.vec((5, 1.0), (axis, 0.5)),
                vector_model=MODEL,
            )

        backend.index_documents(
            [
                fields_doc(
                    "cq:rct",
                    "Warfarin in atrial fibrillation",
                    "Patients were randomly assigned.",
                    ("Randomized Controlled Trial",),
                    6,
                ),
                fields_doc(
                    "cq:cohort", "Warfarin and bleeding", "A cohort study of relative risk.", ("Journal Article",), 7
                ),
                fields_doc("cq:sr", "Warfarin: a systematic review", "We pooled trials.", ("Systematic Review",), 8),
            ]
        )
        narrow = clinical_queries.tag_of(clinical_queries.filter_key("therapy", "narrow"))
        assert self.search(backend, "warfarin", tag_groups=((narrow,),)) == ["cq:rct"]
        etiology = clinical_queries.tag_of(clinical_queries.filter_key("etiology", "narrow"))
        assert self.search(backend, "warfarin", tag_groups=((etiology,),)) == ["cq:cohort"]
        reviews = clinical_queries.tag_of(clinical_queries.filter_key("systematic_reviews"))
        hits = backend.vector_search(self.vec((5, 1.0)), filters=SearchFilters(tag_groups=((reviews,),)), limit=5)
        assert self.ids(hits) == ["cq:sr"]
        assert backend.count(filters=SearchFilters(tag_groups=((narrow,),))) == 1

    # --- vectors -----------------------------------------------------------------------------
    def test_vector_search_returns_nearest_first(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        hits = backend.vector_search(self.vec((1, 1.0)), filters=SearchFilters(), limit=2)
        assert self.ids(hits) == ["t:2", "t:3"]
        assert hits[0].score >= hits[1].score

    def test_vector_search_applies_filters_inside(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        hits = backend.vector_search(
            self.vec((0, 1.0)), filters=SearchFilters(include_retracted=False, year_from=2015), limit=2
        )
        assert self.ids(hits) == ["t:1", "t:3"]

    def test_documents_without_vectors_are_searchable_lexically_only(self, backend: SearchBackend) -> None:
        backend.index_documents([self.doc("p:1", "Pending embedding record")])
        assert self.search(backend, "pending") == ["p:1"]
        assert backend.vector_search(self.vec((0, 1.0)), filters=SearchFilters(), limit=5) == []

    def test_vector_of_other_dimension_is_refused(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        bad = self.doc("b:1", "Bad vector", vector=unit(self.vector_dim + 1, (0, 1.0)), vector_model=MODEL)
        with pytest.raises(SearchBackendError):
            backend.index_documents([bad])

    # --- facets, ids, hashes, health ---------------------------------------------------------
    def test_facet_counts_cover_the_given_documents(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        facets = backend.facet_counts(["t:1", "t:2", "t:3"])
        assert facets["evidence_level"] == {"rct": 1, "cohort": 1, "systematic_review": 1}
        assert facets["publication_year"] == {"2019": 1, "2015": 1, "2022": 1}
        assert facets["publication_type"]["Journal Article"] == 1
        assert facets["free_full_text"] == {"yes": 2, "no": 1}
        assert facets["language"] == {"eng": 3}

    def test_ids_and_content_hashes_reflect_the_index(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        assert backend.document_ids() == {"t:1", "t:2", "t:3", "t:4"}
        hashes = backend.content_hashes(["t:1", "zz:0"])
        assert hashes == {"t:1": "hash-t:1-Aspirin for secondary prevention of stroke"}

    def test_health_reports_documents(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        health = backend.health()
        assert health.ok
        assert health.documents == 4

    # --- generations -------------------------------------------------------------------------
    def test_rebuild_through_a_new_generation_switches_atomically(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        old = backend.live_generation()
        new = backend.create_generation()
        target = backend.generation_backend(new)
        target.index_documents([self.doc("g:1", "Fresh generation only")])
        assert self.search(backend, "fresh") == []  # not live yet
        backend.switch_generation(new)
        assert backend.live_generation() == new
        assert self.search(backend, "fresh") == ["g:1"]
        assert self.search(backend, "statins") == []
        if old is not None:
            backend.drop_generation(old)
            assert old not in backend.generations()

    def test_live_generation_cannot_be_dropped(self, backend: SearchBackend) -> None:
        backend.index_documents(self.corpus())
        live = backend.live_generation()
        assert live is not None
        with pytest.raises(SearchBackendError):
            backend.drop_generation(live)
