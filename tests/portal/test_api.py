from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from portal.forms import MAX_PAGE_SIZE
from tests.factories import EvidenceRecordFactory

pytestmark = pytest.mark.django_db

RESULT_KEYS = {
    "pmid",
    "title",
    "journal",
    "year",
    "evidence_level",
    "evidence_explanation",
    "predicted",
    "retracted",
    "snippet",
    "score_breakdown",
    "links",
}


def test_search_answers_count_results_and_facets(client: Client, corpus: dict) -> None:
    response = client.get("/api/v1/search", {"q": "statin"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5  # four keyword matches and one distant semantic neighbour
    assert len(body["results"]) == 5
    first = body["results"][0]
    assert set(first) >= RESULT_KEYS
    assert first["pmid"] == corpus["review"].pmid
    assert first["evidence_level"] == "systematic_review"
    assert first["evidence_explanation"]["text"] == "systematic review: PubMed publication type Meta-Analysis"
    assert first["links"]["pubmed"] == f"https://pubmed.ncbi.nlm.nih.gov/{corpus['review'].pmid}/"
    assert first["links"]["pmc"] == "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7654321/"
    assert set(first["score_breakdown"]) >= {"bm25_rank", "vector_rank", "evidence_boost", "final_score"}
    assert body["facets"]["evidence_level"]["rct"] == 3
    predicted = next(item for item in body["results"] if item["pmid"] == corpus["cohort"].pmid)
    assert predicted["predicted"] is True
    retracted = next(item for item in body["results"] if item["pmid"] == corpus["retracted"].pmid)
    assert retracted["retracted"] is True


def test_level_is_repeatable(client: Client, corpus: dict) -> None:
    body = client.get("/api/v1/search", {"q": "statin", "level": ["cohort", "systematic_review"]}).json()
    assert {item["evidence_level"] for item in body["results"]} == {"cohort", "systematic_review"}
    assert body["count"] == 2


def test_pico_parameters_search_without_free_text(client: Client, corpus: dict) -> None:
    body = client.get("/api/v1/search", {"population": "older adults", "outcome": "dementia"}).json()
    assert body["results"][0]["pmid"] == corpus["cohort"].pmid


def test_page_size_is_capped(client: Client, corpus: dict) -> None:
    body = client.get("/api/v1/search", {"q": "statin", "page_size": "1000"}).json()
    assert body["page_size"] == MAX_PAGE_SIZE


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"q": "statin", "year_from": "abc"}, "year_from"),
        ({"q": "statin", "level": "astrology"}, "level"),
        ({"q": "statin", "sort": "random"}, "sort"),
        ({"q": "statin", "page": "-1"}, "page"),
        ({"q": "statin", "free_full_text": "maybe"}, "free_full_text"),
        ({"q": "x" * 501}, "q"),
        ({"q": "statin", "question": "astrology"}, "question"),
        ({"q": "statin", "question": "therapy", "scope": "wide"}, "scope"),
    ],
)
def test_bad_parameters_are_400_with_a_message_naming_them(client: Client, params: dict, parameter: str) -> None:
    response = client.get("/api/v1/search", params)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert parameter in body["errors"]


def test_clinical_question_filters_inside_retrieval(client: Client, corpus: dict) -> None:
    narrow = client.get("/api/v1/search", {"q": "statin", "question": "therapy", "scope": "narrow"}).json()
    assert [item["pmid"] for item in narrow["results"]] == [corpus["trial"].pmid]
    reviews = client.get("/api/v1/search", {"q": "statin", "question": "systematic_reviews"}).json()
    assert [item["pmid"] for item in reviews["results"]] == [corpus["review"].pmid]
    broad = client.get("/api/v1/search", {"q": "statin", "question": "therapy"}).json()
    assert corpus["trial"].pmid in {item["pmid"] for item in broad["results"]}
    assert corpus["cohort"].pmid not in {item["pmid"] for item in broad["results"]}


def test_chinese_query_finds_the_english_records(client: Client, corpus: dict) -> None:
    body = client.get("/api/v1/search", {"q": "他汀 心血管疾病 一级预防"}).json()
    assert body["results"][0]["pmid"] == corpus["review"].pmid
    assert body["query_translation"]["text"] == "statins cardiovascular disease primary prevention"
    assert body["nothing_relevant"] is False


@pytest.mark.parametrize("text", ["今天天气怎么样", "wedding dress fashion trends"])
def test_unrelated_query_says_nothing_relevant_instead_of_listing_records(
    client: Client, corpus: dict, text: str
) -> None:
    body = client.get("/api/v1/search", {"q": text}).json()
    assert (body["count"], body["results"], body["nothing_relevant"]) == (0, [], True)


def test_bottom_line_quotes_the_best_review_conclusion(client: Client, corpus: dict) -> None:
    body = client.get("/api/v1/search", {"q": "statins primary prevention cardiovascular disease"}).json()
    panel = body["bottom_line"]
    assert panel["recommendation"] is None and panel["conflict"] is False
    assert panel["review"]["uid"] == corpus["review"].uid
    assert panel["review"]["text"] == "Statins reduce cardiovascular events."
    assert panel["review"]["evidence_level"] == "systematic_review"
    assert panel["review"]["links"]["record"] == f"/records/{corpus['review'].uid}"
    page = client.get("/search", {"q": "statins primary prevention cardiovascular disease"}).content.decode()
    assert 'id="bottom-line-heading"' in page and "Statins reduce cardiovascular events." in page


def test_no_bottom_line_when_nothing_matches_strongly(client: Client, corpus: dict) -> None:
    body = client.get("/api/v1/search", {"q": "dementia older adults"}).json()
    assert body["bottom_line"] is None
    assert 'id="bottom-line-heading"' not in client.get("/search", {"q": "dementia older adults"}).content.decode()


def test_empty_search_is_an_empty_page(client: Client, db: None) -> None:
    body = client.get("/api/v1/search").json()
    assert (body["count"], body["results"]) == (0, [])


def test_search_is_503_json_when_the_backend_is_down(client: Client, search_down: Any) -> None:
    response = client.get("/api/v1/search", {"q": "statin"})
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]


def test_record_endpoint_returns_the_record_whole(client: Client) -> None:
    record = EvidenceRecordFactory(evidence_level="rct", pmcid="PMC1", keywords=["bp"])
    response = client.get(f"/api/v1/records/{record.pmid}")
    assert response.status_code == 200
    body = response.json()
    assert body["pmid"] == record.pmid
    assert body["title"] == record.title
    assert body["abstract_sections"] == record.abstract_sections
    assert body["mesh_headings"][0]["descriptor"] == "Hypertension"
    assert body["authors"] == ["Smith J", "Doe A"]
    assert body["evidence_level"] == "rct"
    assert body["keywords"] == ["bp"]
    assert body["links"]["pmc"].endswith("/PMC1/")


def test_unknown_record_is_404_json(client: Client) -> None:
    response = client.get("/api/v1/records/987654321")
    assert response.status_code == 404
    assert "987654321" in response.json()["detail"]


def test_clients_are_rate_limited(client: Client, settings: Any) -> None:
    settings.PORTAL_API_RATE = "3/m"
    statuses = [client.get("/api/v1/records/1").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    other_client = client.get("/api/v1/records/1", REMOTE_ADDR="10.0.0.2")
    assert other_client.status_code == 404


def test_openapi_schema_is_served_at_a_stable_url(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    search = schema["paths"]["/api/v1/search"]["get"]
    names = {parameter["name"] for parameter in search["parameters"]}
    assert {"q", "population", "intervention", "comparison", "outcome", "level", "year_from", "year_to"} <= names
    assert {"type", "free_full_text", "sort", "page", "page_size", "question", "scope"} <= names
    question = next(p for p in search["parameters"] if p["name"] == "question")
    assert "therapy" in question["schema"]["enum"] and "Clinical Queries" in question["description"]
    out = schema["components"]["schemas"]["SearchOut"]["properties"]
    assert {"bottom_line", "nothing_relevant", "query_translation"} <= set(out)
    assert "BottomLineOut" in schema["components"]["schemas"]
    assert {"200", "400", "503"} <= set(search["responses"])
    assert "/api/v1/records/{pmid}" in schema["paths"]
