from __future__ import annotations

from django.http import QueryDict

from portal.forms import MAX_PAGE_SIZE, SearchForm


def form_for(query: str) -> SearchForm:
    form = SearchForm(QueryDict(query))
    form.is_valid()
    return form


def test_full_query_becomes_a_search_request_with_filters() -> None:
    form = form_for(
        "q=statins&population=adults&intervention=atorvastatin&comparison=placebo&outcome=mortality"
        "&level=rct&level=systematic_review&year_from=2010&year_to=2020&type=Meta-Analysis"
        "&language=eng&free_full_text=true&sort=newest&page=2&page_size=10"
    )
    assert form.errors == {}
    request = form.to_search_request()
    assert request.text == "statins"
    assert (request.population, request.intervention, request.comparison, request.outcome) == (
        "adults",
        "atorvastatin",
        "placebo",
        "mortality",
    )
    assert request.filters.evidence_levels == ("rct", "systematic_review")
    assert (request.filters.year_from, request.filters.year_to) == (2010, 2020)
    assert request.filters.publication_types == ("Meta-Analysis",)
    assert request.filters.languages == ("eng",)
    assert request.filters.free_full_text is True
    assert (request.sort, request.page, request.page_size) == ("newest", 2, 10)


def test_defaults_are_best_evidence_first_page_of_ten() -> None:
    request = form_for("q=aspirin").to_search_request()
    assert (request.sort, request.page, request.page_size) == ("evidence", 1, 10)
    assert request.filters.is_empty()


def test_non_numeric_year_is_an_error_naming_the_parameter() -> None:
    assert "year_from" in form_for("q=x&year_from=abc").errors


def test_unknown_evidence_level_is_an_error() -> None:
    errors = form_for("q=x&level=astrology").errors
    assert "astrology" in errors["level"][0]


def test_year_range_typed_backwards_is_searched_the_right_way_round() -> None:
    filters = form_for("q=x&year_from=2020&year_to=2010").to_search_request().filters
    assert (filters.year_from, filters.year_to) == (2010, 2020)


def test_unknown_sort_and_bad_page_are_errors() -> None:
    errors = form_for("q=x&sort=random&page=0").errors
    assert set(errors) == {"sort", "page"}


def test_page_size_is_capped() -> None:
    assert form_for("q=x&page_size=10000").to_search_request().page_size == MAX_PAGE_SIZE


def test_too_long_query_is_an_error() -> None:
    assert "q" in form_for("q=" + "a" * 501).errors


def test_repeated_filter_values_are_deduplicated() -> None:
    request = form_for("q=x&type=Review&type=Review&type=%20").to_search_request()
    assert request.filters.publication_types == ("Review",)


def test_empty_form_has_no_query_but_a_filter_alone_does() -> None:
    assert not form_for("").has_query()
    assert not form_for("q=&sort=newest").has_query()
    assert form_for("level=rct").has_query()
    assert form_for("outcome=stroke").has_query()
