"""Guideline recommendations in search, pages and the API, on the embedded backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from tests.guidelines import search_cases
from tests.guidelines.corpus import lung_guideline, statin_guideline, store_and_index

pytestmark = pytest.mark.django_db


def test_a_search_on_a_guideline_topic_shows_its_recommendation_first(fresh_index: Path) -> None:
    search_cases.recommendation_found_first_among_guidelines()


def test_issuer_and_strength_filters_apply_inside_retrieval(fresh_index: Path) -> None:
    search_cases.issuer_and_strength_filters_apply_inside_retrieval()


def test_superseded_recommendations_leave_the_results(fresh_index: Path) -> None:
    search_cases.superseded_recommendations_leave_the_results()


def test_the_card_shows_strength_grade_and_a_link_to_the_guideline_at_the_recommendation(
    fresh_index: Path, client: Client
) -> None:
    guideline = store_and_index(statin_guideline())
    html = client.get("/search", {"q": "statin primary prevention 40 to 75"}).content.decode()
    assert "Guideline recommendation 1" in html
    assert "Grade B" in html and "Strong recommendation for" in html
    assert f'href="/guidelines/{guideline.pk}/#rec-1"' in html
    assert "U.S. Preventive Services Task Force" in html
    assert "Insufficient evidence" in html  # the I statement of the same guideline


def test_the_guideline_page_lists_recommendations_in_order_with_anchors(fresh_index: Path, client: Client) -> None:
    guideline = store_and_index(statin_guideline(), vectors=False)
    response = client.get(f"/guidelines/{guideline.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index('id="rec-1"') < html.index('id="rec-2"') < html.index('id="rec-3"')
    assert "Adults 76 years or older" in html
    assert "Certainty of evidence" not in html  # none stated, none invented
    assert "https://example.org/uspstf/statins" in html
    assert client.get("/guidelines/999999/").status_code == 404


def test_an_old_guideline_says_it_is_old_and_a_superseded_one_points_to_the_new(
    fresh_index: Path, client: Client, settings: object
) -> None:
    old = store_and_index(statin_guideline(year=2009, version="2009"), vectors=False)
    html = client.get(f"/guidelines/{old.pk}/").content.decode()
    assert "Published more than 5 years ago" in html
    new = store_and_index(statin_guideline(year=2022, version="2022"), vectors=False)
    html = client.get(f"/guidelines/{old.pk}/").content.decode()
    assert "Superseded by a newer version" in html and f'href="/guidelines/{new.pk}/"' in html


def test_the_api_returns_kind_and_recommendation_fields(fresh_index: Path, client: Client) -> None:
    store_and_index(lung_guideline())
    body = client.get("/api/v1/search", {"q": "lung cancer screening", "kind": "recommendation"}).json()
    (result,) = body["results"]
    assert result["kind"] == "recommendation"
    rec = result["recommendation"]
    assert (rec["strength"], rec["certainty"], rec["direction"], rec["number"]) == ("conditional", "low", "for", "1")
    assert rec["guideline"]["title"] == "Screening for lung cancer"
    assert rec["guideline"]["issuer"] == "Department of Veterans Affairs"
    assert rec["guideline"]["year"] == 2021
    assert rec["page"].endswith("#rec-1")
    assert body["facets"]["strength"] == {"conditional": 1}
    bad = client.get("/api/v1/search", {"q": "lung", "strength": "mighty"})
    assert bad.status_code == 400 and "strength" in bad.json()["errors"]


def test_guideline_text_is_escaped_on_every_page(fresh_index: Path, client: Client) -> None:
    from ingest.guidelines.types import ParsedGuideline, ParsedRecommendation

    hostile = ParsedGuideline(
        source="upload",
        source_id="x",
        title='<script>alert("t")</script> asthma guideline',
        issuer="<b>Body</b>",
        year=2024,
        recommendations=(ParsedRecommendation(number="1", text="Offer <img src=x onerror=alert(1)> asthma inhalers"),),
    )
    guideline = store_and_index(hostile, vectors=False)
    for url in ("/search?q=asthma", f"/guidelines/{guideline.pk}/"):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>Body</b>" not in html
