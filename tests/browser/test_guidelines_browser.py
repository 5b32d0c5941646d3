"""A doctor searches a guideline topic, opens the recommendation and lands on it in its guideline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.guidelines.corpus import statin_guideline, store_and_index

pytestmark = pytest.mark.browser


def test_search_open_the_recommendation_and_land_at_its_anchor(
    page: Any, site: tuple[str, dict], tmp_path: Path
) -> None:
    url, _ = site
    guideline = store_and_index(statin_guideline())
    page.goto(f"{url}/search?q=statin+primary+prevention+adults+with+cardiovascular+risk+factors")
    first = page.locator(".results .card").first
    text = first.text_content()
    assert "Guideline recommendation 1" in text
    assert "Grade B" in text and "Strong recommendation for" in text
    assert "10% or greater" in text  # the whole recommendation, not an excerpt
    first.get_by_role("link", name="In the guideline").click()
    page.wait_for_url(f"**/guidelines/{guideline.pk}/#rec-1")
    target = page.locator("#rec-1")
    assert target.is_visible()
    assert "10% or greater" in target.inner_text()
    assert page.evaluate("document.querySelector(':target').id") == "rec-1"
    assert page.evaluate("window.scrollY") > 0 or target.bounding_box()["y"] < 200
    page.screenshot(path=str(tmp_path / "guideline.png"))
