from __future__ import annotations

from urllib.parse import parse_qs

from django.http import QueryDict

from portal.presenters import Badge, active_filters, level_facet, url_with, value_facet, year_bounds
from records.evidence.levels import level_info


def parsed(url: str) -> dict[str, list[str]]:
    assert url.startswith("?")
    return parse_qs(url[1:])


def test_url_with_replaces_a_key_and_returns_to_page_one() -> None:
    params = QueryDict("q=statins&sort=evidence&page=3&level=rct")
    assert parsed(url_with(params, sort="newest")) == {"q": ["statins"], "sort": ["newest"], "level": ["rct"]}


def test_url_with_keeps_other_state_when_changing_page() -> None:
    params = QueryDict("q=statins&level=rct&level=cohort&page=3")
    assert parsed(url_with(params, page=4)) == {"q": ["statins"], "level": ["rct", "cohort"], "page": ["4"]}


def test_url_with_none_or_empty_list_removes_the_key() -> None:
    params = QueryDict("q=statins&level=rct&year_from=2000")
    assert parsed(url_with(params, level=[], year_from=None)) == {"q": ["statins"]}


def test_url_with_encodes_special_characters() -> None:
    url = url_with(QueryDict(""), q='"heart failure" & <b>')
    assert "<" not in url and '"' not in url
    assert parsed(url) == {"q": ['"heart failure" & <b>']}


def test_level_facet_is_ordered_strongest_first_and_toggles_levels() -> None:
    facets = {"evidence_level": {"cohort": 4, "guideline": 1, "rct": 2, "unknown": 0}}
    entries = level_facet(facets, QueryDict("q=x&level=rct"), ["rct"])
    assert [entry.value for entry in entries] == ["guideline", "rct", "cohort"]
    rct = entries[1]
    assert rct.selected and rct.count == 2
    assert parsed(rct.url) == {"q": ["x"]}  # clicking a selected level removes it
    assert parsed(entries[0].url) == {"q": ["x"], "level": ["rct", "guideline"]}


def test_value_facet_shows_commonest_values_and_keeps_selected_ones() -> None:
    facets = {"publication_type": {"Journal Article": 9, "Review": 5, "Letter": 1}}
    entries = value_facet(facets, "publication_type", "type", QueryDict(""), ["Case Reports"], limit=2)
    assert [(entry.value, entry.count, entry.selected) for entry in entries] == [
        ("Journal Article", 9, False),
        ("Review", 5, False),
        ("Case Reports", 0, True),
    ]


def test_year_bounds_ignore_empty_and_non_numeric_years() -> None:
    assert year_bounds({"publication_year": {"2001": 2, "1999": 1, "unknown": 3, "2020": 0}}) == (1999, 2001)
    assert year_bounds({}) == (None, None)


def test_active_filters_each_link_removes_only_that_filter() -> None:
    params = QueryDict("q=x&level=rct&type=Review&year_from=2000")
    data = {"level": ["rct"], "type": ["Review"], "year_from": 2000}
    links = {link.label: parsed(link.url) for link in active_filters(data, params)}
    assert links["Randomised controlled trial"] == {"q": ["x"], "type": ["Review"], "year_from": ["2000"]}
    assert links["from 2000"] == {"q": ["x"], "level": ["rct"], "type": ["Review"]}


def test_badge_label_names_the_level_and_the_prediction() -> None:
    info = level_info("rct")
    badge = Badge("rct", info.name, info.short_name, info.colour, info.text_colour, predicted=True, retracted=False)
    assert badge.label == "Evidence level: Randomised controlled trial (predicted by the classifier)"
    sure = Badge(
        "rct",
        info.name,
        info.short_name,
        info.colour,
        info.text_colour,
        predicted=True,
        retracted=False,
        probability=0.873,
        cues=('"randomized"', "design cue: placebo"),
    )
    assert sure.predicted_text == "predicted, 87 %"
    assert sure.label == (
        'Evidence level: Randomised controlled trial (predicted by the classifier, 87 %; top cues: "randomized", '
        "design cue: placebo)"
    )
