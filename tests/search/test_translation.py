"""Chinese queries become English search terms through the bundled term list."""

from __future__ import annotations

import pytest

from search.query import parse_request
from search.translation import TermListError, default_terms, has_chinese, parse_terms, translate_query
from search.types import SearchRequest


def test_chinese_query_becomes_english_terms_by_longest_match() -> None:
    result = translate_query("二甲双胍 2型糖尿病 心血管结局")
    assert result.translated
    assert result.text == "metformin type 2 diabetes cardiovascular outcomes"
    assert ("2型糖尿病", "type 2 diabetes") in result.matched  # not "2" + "型" + "糖尿病"
    assert result.unknown == ()


def test_latin_codes_are_kept_and_unknown_characters_reported() -> None:
    result = translate_query("HIV阳性者，抗逆转录病毒治疗 龘")  # noqa: RUF001 (Chinese punctuation on purpose)
    assert result.text.split()[:2] == ["HIV", "positive"]
    assert "antiretroviral therapy" in result.text
    assert result.unknown == ("龘",)


def test_english_query_is_left_alone() -> None:
    result = translate_query("statins primary prevention")
    assert (result.translated, result.text) == (False, "statins primary prevention")
    assert not has_chinese("level:rct 2020")


def test_bundled_term_list_is_large_and_well_formed() -> None:
    terms = default_terms()
    assert len(terms) >= 900
    assert terms["心房颤动"] == "atrial fibrillation"


@pytest.mark.parametrize(
    ("text", "line"), [("# c\n糖尿病\tdiabetes\nno tab here\n", 3), ("糖尿病\tdiabetes\nstatin\tstatin\n", 2)]
)
def test_malformed_term_list_names_the_line(text: str, line: int) -> None:
    with pytest.raises(TermListError, match=f"line {line}:"):
        parse_terms(text)


def test_parsed_chinese_query_searches_and_embeds_the_english() -> None:
    parsed = parse_request(SearchRequest(text="阿司匹林 卒中 二级预防 year:2015-2020", intervention="他汀"))
    assert {"aspirin", "stroke", "secondary", "prevention", "statins"} <= set(parsed.lexical.terms)
    assert parsed.filters.year_from == 2015  # field filters survive translation
    assert not has_chinese(parsed.embed_text) and "aspirin" in parsed.embed_text
    assert parsed.translation is not None and parsed.translation.original.startswith("阿司匹林")
