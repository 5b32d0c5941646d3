"""search_records and friends end to end: real records, real index, real embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from records.models import EvidenceRecord
from search import indexing, services
from search.backends import get_backend
from search.backends.base import SearchBackendUnavailable, SearchFilters
from search.models import IndexEntry
from search.types import SearchRequest
from tests.factories import EvidenceRecordFactory

pytestmark = pytest.mark.django_db


def make(title: str, abstract: str = "", **fields: Any) -> EvidenceRecord:
    sections = [{"label": "CONCLUSIONS", "category": "CONCLUSIONS", "text": abstract or title}]
    return EvidenceRecordFactory(title=title, abstract=abstract, abstract_sections=sections, **fields)


@pytest.fixture
def corpus(search_index: Path) -> list[EvidenceRecord]:
    records = [
        make(
            "Aspirin after ischaemic stroke",
            "Aspirin lowered recurrent stroke.",
            evidence_level="rct",
            publication_year=2019,
        ),
        make("Statins in heart failure", "Statins did not change mortality in heart failure.", evidence_level="cohort"),
        make(
            "Exercise for heart failure: systematic review",
            "Exercise improved quality of life in heart failure.",
            evidence_level="systematic_review",
            publication_year=2023,
        ),
        make(
            "Aspirin <script>alert(1)</script> dosing",
            "Aspirin in children.",
            evidence_level="case_series",
            retracted=True,
        ),
    ]
    indexing.records_index(record_ids=[r.id for r in records])
    indexing.embed_pending(limit=100)
    return records


def search(text: str = "", **kwargs: Any):
    return services.search_records(SearchRequest(text=text, **kwargs))


def test_search_finds_matching_records_with_breakdowns(corpus: list[EvidenceRecord]) -> None:
    page = search("aspirin stroke")
    assert page.results[0].record == corpus[0]
    first = page.results[0].breakdown
    assert first.bm25_rank == 1 and first.vector_rank is not None
    assert first.final_score >= first.fused_score * 0  # present and numeric
    assert page.pending_vectors == 0


def test_meaning_match_without_shared_words_comes_from_vectors(corpus: list[EvidenceRecord]) -> None:
    page = search("cardiac insufficiency physical training")
    assert corpus[2] in [r.record for r in page.results[:2]]


def test_titles_and_snippets_are_escaped_and_highlighted(corpus: list[EvidenceRecord]) -> None:
    page = search("aspirin")
    html = next(r.title_html for r in page.results if r.record == corpus[3])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<mark>Aspirin</mark>" in html


def test_typed_filters_apply_inside_retrieval(corpus: list[EvidenceRecord]) -> None:
    page = search("heart failure level:systematic_review")
    assert [r.record for r in page.results] == [corpus[2]]
    assert page.facets["evidence_level"] == {"systematic_review": 1}


def test_filtered_pages_are_full(search_index: Path) -> None:
    records = [
        make(
            f"Asthma inhaler study {i}", "Inhaled steroids in asthma.", evidence_level="rct" if i % 6 == 0 else "cohort"
        )
        for i in range(36)
    ]
    indexing.records_index(record_ids=[r.id for r in records])
    page = search("asthma", filters=SearchFilters(evidence_levels=("rct",)), page_size=5)
    assert len(page.results) == 5
    assert page.total == 6
    assert all(r.record.evidence_level == "rct" for r in page.results)


def test_pages_are_stable_and_disjoint(search_index: Path) -> None:
    records = [make(f"Diabetes metformin trial {i}", "Metformin lowered HbA1c.") for i in range(25)]
    indexing.records_index(record_ids=[r.id for r in records])
    first = [r.record.id for r in search("metformin", page_size=10, page=1).results]
    second = [r.record.id for r in search("metformin", page_size=10, page=2).results]
    assert first == [r.record.id for r in search("metformin", page_size=10, page=1).results]
    assert len(first) == 10 and len(second) == 10 and not set(first) & set(second)


def test_search_uses_a_constant_number_of_queries(corpus: list[EvidenceRecord], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(3):
        page = search("heart failure")
    assert len(page.results) >= 2
    with django_assert_num_queries(3):
        search("aspirin", page_size=1)


def test_records_are_searchable_before_their_vectors(search_index: Path) -> None:
    record = make("Vitamin D supplementation and fractures")
    indexing.records_index(record_ids=[record.id])
    page = search("vitamin fractures")
    assert page.results[0].record == record
    assert page.pending_vectors == 1
    assert services.index_status().vectors_ready == 0
    assert indexing.embed_pending(limit=10) == 1
    assert search("vitamin fractures").pending_vectors == 0
    assert services.index_status().vectors_ready == 1


def test_evidence_order_is_the_default_and_relevance_is_available(corpus: list[EvidenceRecord]) -> None:
    by_evidence = search("heart failure")
    by_relevance = search("heart failure", sort="relevance")
    assert by_evidence.results[0].breakdown.evidence_boost > 0
    assert all(r.breakdown.evidence_boost == 0 for r in by_relevance.results)


HOSTILE = [
    '"',
    "*",
    "NEAR(",
    "AND OR",
    "x" * 10_000,
    "🩺💊 fièvre",
    "'; DROP TABLE records; --",
    "((a)",
    "year:",
    ":::",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_return_a_page(corpus: list[EvidenceRecord], text: str) -> None:
    page = search(text)
    assert page.total >= 0


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_returns_a_page(corpus: list[EvidenceRecord], text: str) -> None:
    assert search(text).total >= 0


def test_deleted_records_leave_the_index(corpus: list[EvidenceRecord]) -> None:
    from django.utils import timezone

    EvidenceRecord.objects.filter(pk=corpus[1].pk).update(deleted_at=timezone.now())
    indexing.records_index(record_ids=[corpus[1].pk])
    assert corpus[1].uid not in get_backend().document_ids()
    assert corpus[1] not in [r.record for r in search("statins").results]


def test_reindexing_unchanged_records_changes_nothing(corpus: list[EvidenceRecord]) -> None:
    report = indexing.records_index(record_ids=[r.id for r in corpus])
    assert report.indexed == 0 and report.skipped == 4


def test_reconcile_reports_and_repairs_drift(corpus: list[EvidenceRecord]) -> None:
    assert indexing.reconcile_index(repair=False).in_step
    backend = get_backend()
    backend.delete_documents([corpus[0].uid])
    EvidenceRecord.objects.filter(pk=corpus[1].pk).update(title="Statins renamed")
    report = indexing.reconcile_index(repair=False)
    assert report.missing == [corpus[0].uid]
    assert report.stale == [corpus[1].uid]
    assert report.database_checksum != report.index_checksum
    repaired = indexing.reconcile_index(repair=True)
    assert repaired.repaired
    after = indexing.reconcile_index(repair=False)
    assert after.in_step and after.database_checksum == after.index_checksum
    assert search("renamed").results[0].record.pk == corpus[1].pk


def test_rebuild_switches_generation_and_keeps_cached_vectors(corpus: list[EvidenceRecord]) -> None:
    backend = get_backend()
    old = backend.live_generation()
    report = indexing.rebuild_index()
    assert backend.live_generation() == report.generation != old
    assert report.indexed == 4 and report.with_vectors == 4
    assert old in backend.generations()  # kept for rollback
    second = indexing.rebuild_index()
    assert second.dropped == [old]
    assert backend.generations()[-2:] == [report.generation, second.generation]
    assert search("aspirin stroke").results[0].record == corpus[0]
    assert IndexEntry.objects.filter(vector_ready=True).count() == 4


def test_backend_down_raises_unavailable(corpus: list[EvidenceRecord], search_index: Path) -> None:
    shutil.rmtree(search_index / "generations")
    from search.backends import reset_backends

    reset_backends()
    with pytest.raises(SearchBackendUnavailable):
        search("aspirin")


def test_similar_records_are_nearest_neighbours(corpus: list[EvidenceRecord]) -> None:
    similar = services.similar_records(record=corpus[1], limit=2)
    assert corpus[1] not in similar
    assert similar[0] == corpus[2]


def test_similar_records_fall_back_to_title_words_without_vectors(search_index: Path) -> None:
    a = make("Migraine prophylaxis with propranolol")
    b = make("Propranolol for migraine in adults")
    indexing.records_index(record_ids=[a.id, b.id])
    assert services.similar_records(record=a, limit=3) == [b]


def test_suggest_offers_mesh_terms_and_titles(corpus: list[EvidenceRecord]) -> None:
    assert "Hypertension" in services.suggest(prefix="hyper")
    assert services.suggest(prefix="aspirin a") == ["Aspirin after ischaemic stroke"]
    assert services.suggest(prefix="%") == []
