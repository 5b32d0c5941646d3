"""Search behaviour of guideline recommendations, run against every backend (see test_search.py
for the embedded backend and tests/elastic/test_elastic_guidelines.py for Elasticsearch)."""

from __future__ import annotations

from search.backends.base import SearchFilters
from search.services import search_records
from search.types import SearchRequest
from tests.guidelines.corpus import STATIN_TITLE, USPSTF, lung_guideline, statin_guideline, store_and_index
from tests.portal.corpus import build_corpus


def recommendation_found_first_among_guidelines() -> None:
    build_corpus()
    store_and_index(statin_guideline())
    store_and_index(lung_guideline())
    page = search_records(SearchRequest(text="statin primary prevention adults with cardiovascular risk factors"))
    guideline_hits = [r.record for r in page.results if r.record.kind == "recommendation"]
    assert guideline_hits, "no recommendation among the results"
    first = guideline_hits[0]
    assert first.title == STATIN_TITLE
    assert first.recommendation["strength"] == "strong"
    assert first.evidence_level == "guideline"
    # "best evidence" puts the matching recommendation at the very top of the page
    assert page.results[0].record.kind == "recommendation"
    assert page.facets["issuer"].get(USPSTF, 0) >= 1
    assert "strong" in page.facets["strength"]


def issuer_and_strength_filters_apply_inside_retrieval() -> None:
    store_and_index(statin_guideline())
    store_and_index(lung_guideline())
    text = "screening statin lung cancer prevention"
    by_issuer = search_records(
        SearchRequest(text=text, filters=SearchFilters(tag_groups=(("issuer:Department of Veterans Affairs",),)))
    )
    assert [r.record.title for r in by_issuer.results] == ["Screening for lung cancer"]
    strong = search_records(SearchRequest(text=text, filters=SearchFilters(tag_groups=(("strength:strong",),))))
    assert [r.record.recommendation["number"] for r in strong.results] == ["1"]


def superseded_recommendations_leave_the_results() -> None:
    old = store_and_index(statin_guideline(year=2016, version="2016"))
    new = store_and_index(statin_guideline(year=2022, version="2022"))
    page = search_records(SearchRequest(text="statin primary prevention"))
    guidelines_shown = {r.record.guideline_id for r in page.results}
    assert guidelines_shown == {new.pk}
    assert old.pk not in guidelines_shown
