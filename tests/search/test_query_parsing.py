"""Parsing the search text: terms, phrases, field filters, PICO weights."""

from __future__ import annotations

from html import escape

from hypothesis import given
from hypothesis import strategies as st

from search.backends.base import SearchFilters
from search.highlight import mark, ordered_abstract, snippet
from search.query import parse_request
from search.types import SearchRequest


def parse(text: str, **kwargs: object):
    return parse_request(SearchRequest(text=text, **kwargs))  # type: ignore[arg-type]


def test_free_words_become_terms_without_stop_words() -> None:
    parsed = parse("the effect of aspirin on stroke")
    assert parsed.lexical.terms == ("effect", "aspirin", "stroke")
    assert parsed.filters == SearchFilters()


def test_quoted_phrase_is_kept_whole() -> None:
    parsed = parse('"heart failure" statins')
    assert parsed.lexical.phrases == ("heart failure",)
    assert parsed.lexical.terms == ("statins",)


def test_field_filters_are_taken_out_of_the_text() -> None:
    parsed = parse('asthma year:2020-2024 level:rct type:"Practice Guideline" lang:eng fulltext:yes')
    assert parsed.lexical.terms == ("asthma",)
    f = parsed.filters
    assert (f.year_from, f.year_to) == (2020, 2024)
    assert f.evidence_levels == ("rct",)
    assert f.publication_types == ("Practice Guideline",)
    assert f.languages == ("eng",)
    assert f.free_full_text is True
    assert "year" not in parsed.embed_text


def test_year_forms() -> None:
    assert (parse("year:2019").filters.year_from, parse("year:2019").filters.year_to) == (2019, 2019)
    assert (parse("year:2019-").filters.year_from, parse("year:2019-").filters.year_to) == (2019, None)
    assert (parse("year:-2010").filters.year_from, parse("year:-2010").filters.year_to) == (None, 2010)
    assert (parse("year:2024-2020").filters.year_from, parse("year:2024-2020").filters.year_to) == (2020, 2024)


def test_invalid_filter_stays_as_words_with_a_warning() -> None:
    parsed = parse("level:bogus year:abc")
    assert parsed.filters == SearchFilters()
    assert len(parsed.warnings) == 2
    assert "bogus" in parsed.lexical.terms


def test_typed_filters_add_to_explicit_ones() -> None:
    parsed = parse("level:cohort", filters=SearchFilters(evidence_levels=("rct",)))
    assert parsed.filters.evidence_levels == ("rct", "cohort")


def test_pico_fields_build_a_weighted_query() -> None:
    parsed = parse("", population="adults with hypertension", intervention="salt reduction", outcome="stroke")
    weights = dict(zip(parsed.lexical.terms, parsed.lexical.term_weights, strict=True))
    assert weights["salt"] > weights["adults"]
    assert weights["stroke"] == 1.0
    assert "salt reduction" in parsed.embed_text


def test_surface_forms_of_one_stem_count_once() -> None:
    assert parse("trial trials").lexical.terms == ("trial",)


def test_unbalanced_quote_and_operators_parse_without_error() -> None:
    parsed = parse('"unclosed phrase AND OR NEAR( * (a')
    assert "unclosed" in parsed.lexical.terms
    assert parse('"').lexical.is_empty()


def test_highlight_escapes_html_and_marks_stemmed_matches() -> None:
    html = mark("<b>Running</b> trials & runs", {"run"})
    assert html == "&lt;b&gt;<mark>Running</mark>&lt;/b&gt; trials &amp; <mark>runs</mark>"


@given(st.text(max_size=200), st.sets(st.sampled_from(["run", "trial", "aspirin", "β"]), max_size=3))
def test_highlight_is_the_escaped_text_with_marks_added(text: str, stems: set[str]) -> None:
    html = mark(text, stems)
    assert html.replace("<mark>", "").replace("</mark>", "") == escape(text)


def test_structured_abstract_puts_conclusions_first() -> None:
    sections = [
        {"label": "BACKGROUND", "category": "BACKGROUND", "text": "Why."},
        {"label": "CONCLUSIONS", "category": "CONCLUSIONS", "text": "It works."},
    ]
    assert ordered_abstract(sections, "ignored") == "It works. Why."


def test_snippet_windows_around_the_first_match() -> None:
    text = "filler " * 100 + "aspirin reduces stroke " + "tail " * 100
    html = snippet(text, {"aspirin"})
    assert "<mark>aspirin</mark>" in html
    assert html.startswith("… ") and html.endswith(" …")
    assert len(html) < 400
