"""The portal in real Chromium: search, filter, sort, open a record, export, keyboard, phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


def search(page: Any, base: str, text: str) -> None:
    page.goto(base + "/")
    page.fill("#q", text)
    page.press("#q", "Enter")
    page.wait_for_selector(".result-list")


def titles(page: Any) -> list[str]:
    return [title.strip() for title in page.locator(".card-title a").all_inner_texts()]


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def test_search_shows_graded_results_best_evidence_first(page: Any, site: tuple[str, dict]) -> None:
    base, records = site
    search(page, base, "statin")
    assert "q=statin" in page.url
    assert titles(page)[0] == records["review"].title
    first_badge = page.locator(".card").first.locator(".badge")
    assert first_badge.get_attribute("title") == "Evidence level: Systematic review / meta-analysis"
    assert page.locator(".card mark").count() > 0


def test_filter_by_level_then_change_sort(page: Any, site: tuple[str, dict]) -> None:
    base, records = site
    search(page, base, "statin")
    page.click(".pyramid-level:has-text('Randomised controlled trial')")
    page.wait_for_url(re.compile(r"level=rct"))
    assert set(titles(page)) == {records["trial"].title, records["retracted"].title, records["unrelated"].title}
    page.click("nav.sort a:has-text('Newest')")
    page.wait_for_url(re.compile(r"sort=newest"))
    assert "level=rct" in page.url  # the filter survives the sort change
    assert titles(page) == [records["unrelated"].title, records["retracted"].title, records["trial"].title]


def test_open_a_record_and_export_ris(page: Any, site: tuple[str, dict], tmp_path: Path) -> None:
    base, records = site
    search(page, base, "statin")
    page.click(f".card-title a:has-text('{records['review'].title[:30]}')")
    page.wait_for_selector("h1.record-title")
    assert page.inner_text("h1.record-title") == records["review"].title
    assert page.is_visible("text=Why this rank")
    assert page.is_visible("text=systematic review: PubMed publication type Meta-Analysis")
    with page.expect_download() as download_info:
        page.click("text=Export RIS")
    download = download_info.value
    assert download.suggested_filename == f"pmid{records['review'].pmid}.ris"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text()
    assert text.startswith("TY  - JOUR")
    assert f"TI  - {records['review'].title}" in text


def test_retracted_record_shows_a_red_banner(page: Any, site: tuple[str, dict]) -> None:
    base, records = site
    page.goto(f"{base}/records/{records['retracted'].pmid}")
    banner = page.locator(".retraction-banner")
    assert banner.is_visible()
    assert "retracted" in banner.inner_text().lower()
    background = banner.evaluate("element => getComputedStyle(element).backgroundColor")
    red, green, blue = (int(part) for part in re.findall(r"\d+", background)[:3])
    assert red > 150 and green < 60 and blue < 60


def test_search_page_works_with_the_keyboard_alone(page: Any, site: tuple[str, dict]) -> None:
    base, records = site
    page.goto(base + "/")
    assert page.evaluate("document.activeElement.id") == "q"  # autofocused
    page.keyboard.type("statin")
    page.keyboard.press("Enter")
    page.wait_for_selector(".result-list")
    assert page.evaluate("document.activeElement.id") == "q"
    # Tab from the search box until the first result's title link has focus, then open it.
    first_title = records["review"].title
    for _ in range(15):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "document.activeElement.closest('.card-title') ? document.activeElement.textContent : ''"
        )
        if focused.strip() == first_title:
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", "the focused link shows a focus indicator"
            break
    else:
        pytest.fail("the first result was not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1.record-title")
    assert page.inner_text("h1.record-title") == first_title


def test_skip_link_is_the_first_stop_and_jumps_to_the_content(page: Any, site: tuple[str, dict]) -> None:
    base, records = site
    page.goto(f"{base}/records/{records['trial'].pmid}")  # no autofocus here: Tab starts at the top
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_suggestions_appear_as_you_type(page: Any, site: tuple[str, dict]) -> None:
    base, records = site
    page.goto(base + "/")
    page.type("#q", "stat", delay=30)
    page.wait_for_selector("#q-suggestions li")
    suggestions = page.locator("#q-suggestions li").all_inner_texts()
    assert records["review"].title in suggestions
    page.keyboard.press("ArrowDown")
    assert page.get_attribute("#q", "aria-expanded") == "true"


def test_phone_viewport_has_no_horizontal_scroll(phone_page: Any, site: tuple[str, dict]) -> None:
    base, records = site
    search(phone_page, base, "statin")
    assert no_horizontal_scroll(phone_page)
    phone_page.goto(f"{base}/records/{records['review'].pmid}?q=statin")
    assert no_horizontal_scroll(phone_page)


def test_screenshots_of_search_and_record_pages(page: Any, phone_page: Any, site: tuple[str, dict]) -> None:
    base, records = site
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    record_url = f"{base}/records/{records['review'].pmid}?q=statin"
    for name, shot in (("desktop", page), ("phone", phone_page)):
        search(shot, base, "statin")
        shot.screenshot(path=str(SCREENSHOTS / f"search-{name}.png"), full_page=name == "desktop")
        shot.goto(record_url)
        shot.wait_for_selector("h1.record-title")
        shot.screenshot(path=str(SCREENSHOTS / f"record-{name}.png"), full_page=name == "desktop")
    for name in ("search-desktop", "search-phone", "record-desktop", "record-phone"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000
