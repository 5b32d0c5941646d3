from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from records.models import EvidenceRecord
from tests.factories import EvidenceRecordFactory

pytestmark = pytest.mark.django_db


def result_titles(html: str) -> list[str]:
    titles = re.findall(r'<h3 class="card-title"[^>]*><a href="[^"]*">(.*?)</a></h3>', html, flags=re.S)
    return [re.sub(r"</?mark>", "", title) for title in titles]


def test_home_page_shows_one_autofocused_search_box(client: Client) -> None:
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<input id="q" name="q" type="search"[^>]*autofocus', html)
    assert '<label for="q"' in html
    assert "PICO search" in html
    assert 'class="result-list"' not in html


def test_search_page_lists_results_best_evidence_first_with_badges(client: Client, corpus: dict) -> None:
    response = client.get("/search", {"q": "statin"})
    html = response.content.decode()
    assert response.status_code == 200
    titles = result_titles(html)
    assert titles[0] == corpus["review"].title
    assert titles[-1] == corpus["unrelated"].title  # only a distant semantic neighbour
    assert "Evidence level: Systematic review / meta-analysis" in html
    assert "Evidence level: Cohort study (predicted by the classifier, 81 %; top cues" in html
    assert 'Cohort <abbr class="predicted-mark" title="predicted by the classifier">(predicted, 81 %)</abbr>' in html
    assert f'href="https://pubmed.ncbi.nlm.nih.gov/{corpus["review"].pmid}/"' in html
    assert 'href="https://doi.org/10.1000/test.' in html
    assert 'href="https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7654321/"' in html
    assert "<mark>" in html


def test_retracted_record_card_carries_a_retraction_banner(client: Client, corpus: dict) -> None:
    html = client.get("/search", {"q": "ageing"}).content.decode()
    card = html[html.index('class="card card--retracted"') :]
    assert "this publication has been retracted" in card[: card.index("</li>")]


def test_clicking_a_level_in_the_pyramid_filters_to_it(client: Client, corpus: dict) -> None:
    html = client.get("/search", {"q": "statin"}).content.decode()
    match = re.search(
        r'<a href="([^"]*)" class="pyramid-level">(?:(?!</a>).)*?Randomised controlled trial', html, flags=re.S
    )
    assert match, "the RCT level is a link in the pyramid"
    url = match.group(1).replace("&amp;", "&")
    filtered = client.get("/search" + url).content.decode()
    titles = result_titles(filtered)
    assert set(titles) == {corpus["trial"].title, corpus["retracted"].title, corpus["unrelated"].title}
    assert 'aria-current="true"' in filtered


def test_sort_newest_orders_by_year(client: Client, corpus: dict) -> None:
    html = client.get("/search", {"q": "statin", "sort": "newest"}).content.decode()
    titles = result_titles(html)
    years = [EvidenceRecord.objects.get(title=title).publication_year for title in titles]
    assert years == sorted(years, reverse=True)
    assert '<span class="sort-current" aria-current="true">Newest</span>' in html


def test_year_range_and_language_filters_apply(client: Client, corpus: dict) -> None:
    html = client.get("/search", {"q": "statin", "year_from": "2020"}).content.decode()
    assert set(result_titles(html)) == {corpus["review"].title, corpus["cohort"].title, corpus["unrelated"].title}
    html = client.get("/search", {"q": "statin", "language": "fre"}).content.decode()
    assert result_titles(html) == [corpus["cohort"].title]


def test_clinical_question_filter_is_in_the_url_and_the_page(client: Client, corpus: dict) -> None:
    response = client.get("/search", {"q": "statin", "question": "therapy", "scope": "narrow"})
    html = response.content.decode()
    assert response.status_code == 200
    assert result_titles(html) == [corpus["trial"].title]
    assert '<option value="therapy" selected>' in html
    assert re.search(r'<input type="radio" id="scope-narrow" name="scope" value="narrow" checked>', html)
    chip = re.search(r'<a href="([^"]*)" class="chip">Therapy, narrow', html)
    assert chip and "question=" not in chip.group(1)


def test_pagination_keeps_the_query_and_filters_in_the_url(client: Client, corpus: dict) -> None:
    html = client.get("/search", {"q": "statin", "page_size": "2", "level": ["rct", "cohort"]}).content.decode()
    assert "1\N{EN DASH}2 of 4 records" in html
    next_url = re.search(r'<a href="([^"]*)" rel="next">', html).group(1).replace("&amp;", "&")
    assert "q=statin" in next_url and "page=2" in next_url and next_url.count("level=") == 2
    page_two = client.get("/search" + next_url).content.decode()
    assert "3\N{EN DASH}4 of 4 records" in page_two


def test_no_results_suggests_removing_filters(client: Client, corpus: dict) -> None:
    html = client.get("/search", {"q": "statin", "level": "guideline"}).content.decode()
    assert "Nothing matched this search." in html
    assert "Remove a filter" in html
    assert re.search(r'<a href="\?q=statin" class="chip">Clinical practice guideline', html)


def test_misspelt_query_offers_a_spelling_suggestion(client: Client, corpus: dict) -> None:
    html = client.get("/search", {"q": "physiotherapyy"}).content.decode()
    assert "No record contains these exact words" in html
    assert "physiotherapy" in html.split("Did you mean", 1)[1][:200]


def test_bad_parameters_get_a_400_page_that_names_them(client: Client) -> None:
    response = client.get("/search", {"q": "statin", "year_from": "abc", "level": "astrology"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Please check your search" in html
    assert "year_from" in html and "astrology" in html


def test_search_backend_down_shows_a_clear_503_page(client: Client, db: None, search_down: Any) -> None:
    response = client.get("/search", {"q": "statin"})
    assert response.status_code == 503
    assert "Search is temporarily unavailable" in response.content.decode()


def test_search_page_query_count_does_not_grow_with_results(
    client: Client, corpus: dict, django_assert_max_num_queries: Any
) -> None:
    client.get("/search", {"q": "statin"})  # warm the model and the index reader
    with django_assert_max_num_queries(3):
        response = client.get("/search", {"q": "statin", "page_size": "2"})
    assert len(result_titles(response.content.decode())) == 2
    with django_assert_max_num_queries(3):
        response = client.get("/search", {"q": "statin", "page_size": "20"})
    assert len(result_titles(response.content.decode())) == 5


def test_record_page_shows_abstract_sections_mesh_types_and_grade(client: Client, corpus: dict) -> None:
    record = corpus["review"]
    response = client.get(f"/records/{record.pmid}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h3>CONCLUSIONS</h3>" in html and "Statins reduce cardiovascular events." in html
    assert "Hydroxymethylglutaryl-CoA Reductase Inhibitors" in html
    assert "Meta-Analysis" in html
    assert "systematic review: PubMed publication type Meta-Analysis" in html
    assert f'href="/records/{record.pmid}.ris"' in html
    assert f'href="/records/{record.pmid}.bib"' in html
    assert "Why this rank" not in html  # not reached from a search


def test_record_page_from_a_search_explains_the_rank(client: Client, corpus: dict) -> None:
    record = corpus["review"]
    html = client.get(f"/records/{record.pmid}", {"q": "statin"}).content.decode()
    assert "Why this rank" in html
    assert "Evidence boost" in html
    assert 'href="/search?q=statin"' in html


def test_record_page_lists_similar_records(client: Client, corpus: dict) -> None:
    html = client.get(f"/records/{corpus['trial'].pmid}").content.decode()
    similar = html[html.index("Similar records") :]
    assert corpus["trial"].title not in similar
    assert any(corpus[key].title in similar for key in ("review", "cohort", "retracted"))


def test_predicted_grade_is_marked_on_the_record_page(client: Client, corpus: dict) -> None:
    html = client.get(f"/records/{corpus['cohort'].pmid}").content.decode()
    assert "(predicted, 81 %, by the classifier)" in html
    assert "Cohort study: 81 %" in html and "Case-control study: 12 %" in html
    assert 'What drove the prediction: <span lang="en">&quot;followed&quot;; design cue: cohort design</span>' in html


def test_retracted_record_page_has_the_banner(client: Client, corpus: dict) -> None:
    html = client.get(f"/records/{corpus['retracted'].pmid}").content.decode()
    assert 'class="retraction-banner"' in html


def test_unknown_or_deleted_record_is_404(client: Client, db: None, fresh_index: Any) -> None:
    assert client.get("/records/123456789").status_code == 404
    deleted = EvidenceRecordFactory(deleted_at="2026-01-02T00:00:00Z")
    assert client.get(f"/records/{deleted.pmid}").status_code == 404


def test_guideline_record_is_addressed_by_uid(client: Client, db: None, fresh_index: Any) -> None:
    guideline = EvidenceRecordFactory(guideline=True, source_id="statins-2022", evidence_level="guideline")
    response = client.get(f"/records/{guideline.uid}")
    assert response.status_code == 200
    assert "The USPSTF recommends screening." in response.content.decode()


def test_ris_and_bibtex_exports_download_as_attachments(client: Client, db: None) -> None:
    record = EvidenceRecordFactory(title="Aspirin after stroke")
    ris = client.get(f"/records/{record.pmid}.ris")
    assert ris.status_code == 200
    assert ris["Content-Type"].startswith("application/x-research-info-systems")
    assert ris["Content-Disposition"] == f'attachment; filename="pmid{record.pmid}.ris"'
    assert "TI  - Aspirin after stroke" in ris.content.decode()
    bib = client.get(f"/records/{record.pmid}.bib")
    assert bib["Content-Disposition"] == f'attachment; filename="pmid{record.pmid}.bib"'
    assert bib.content.decode().startswith(f"@article{{pmid{record.pmid},")
    assert client.get("/records/999999999.ris").status_code == 404


def test_suggest_returns_terms_from_the_index(client: Client, corpus: dict) -> None:
    response = client.get("/suggest", {"q": "stat"})
    assert response.status_code == 200
    suggestions = response.json()["suggestions"]
    assert suggestions and all("stat" in item.lower() for item in suggestions)
    assert client.get("/suggest", {"q": "s"}).json() == {"suggestions": []}


def test_healthz_answers_without_dependencies(client: Client) -> None:
    assert client.get("/healthz").json() == {"ok": True}


def test_readyz_is_200_when_database_and_search_answer(client: Client, corpus: dict) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["database"]["ok"] is True and body["search"]["documents"] == 5


def test_readyz_is_503_with_detail_when_search_is_down(client: Client, db: None, search_down: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False and body["search"]["ok"] is False
    assert "missing" in body["search"]["detail"]


def test_records_waiting_for_vectors_are_announced(client: Client, db: None, fresh_index: Any) -> None:
    from tests.portal.corpus import index_records

    records = [EvidenceRecordFactory(title=f"Aspirin after stroke, part {n}") for n in range(2)]
    index_records(records, vectors=False)
    html = client.get("/search", {"q": "aspirin"}).content.decode()
    assert len(result_titles(html)) == 2  # keyword search works before the vectors are there
    assert "2 records still being indexed" in html
