"""In a real browser: an author searches, adds three records with notes, freezes a snapshot and
exports it as RIS."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rispy

from curation.models import Collection, Snapshot
from records.models import EvidenceRecord
from search.backends import reset_backends
from tests.browser.conftest import watch
from tests.factories import EvidenceRecordFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
NOTES = ["Pivotal trial for rec. 1", "Pooled estimate, low heterogeneity", "Long follow-up, adults over 75"]


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM is only used outside it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        seen = watch(page)
        try:
            yield page
        finally:
            context.close()
            browser.close()
        seen.check()


@pytest.fixture
def statin_corpus(transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[list[EvidenceRecord]]:
    from search.indexing import records_index

    backends = dict(settings.SEARCH_BACKENDS)
    options = {**backends["embedded"]["OPTIONS"], "path": str(tmp_path / "index")}
    backends["embedded"] = {**backends["embedded"], "OPTIONS": options}
    settings.SEARCH_BACKENDS = backends
    settings.SEARCH_DEFAULT_BACKEND = "embedded"
    reset_backends()
    titles = [
        ("Atorvastatin versus placebo after stroke: a randomised trial of statin therapy", "rct"),
        ("Statins for primary prevention of cardiovascular disease: a systematic review", "systematic_review"),
        ("Statin therapy and mortality in adults over 75: a cohort study", "cohort"),
        ("Aspirin for primary prevention in older adults", "rct"),
    ]
    records = [
        EvidenceRecordFactory(
            title=title, abstract_sections=[], abstract=f"{title}. Statin outcomes.", evidence_level=level
        )
        for title, level in titles
    ]
    records_index(record_ids=[record.pk for record in records])
    yield records
    reset_backends()


@pytest.mark.browser
@pytest.mark.slow
def test_author_searches_adds_three_records_freezes_and_exports_ris(
    live_server: Any, browser_page: Any, statin_corpus: list[EvidenceRecord], tmp_path: Path
) -> None:
    from tests.curation.conftest import make_user

    make_user("olivia")
    page = browser_page
    base = live_server.url

    page.goto(f"{base}/accounts/login/?next=/collections/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "pw-olivia")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/collections/")

    page.fill("#new-name", "Statins for secondary prevention")
    page.click("text=Create collection")
    page.wait_for_url(f"{base}/collections/*/")

    for index, note in enumerate(NOTES):
        page.goto(f"{base}/search?q=statin")
        page.locator(".card-title a").nth(index).click()
        page.wait_for_selector("form.add-to-collection")
        form = page.locator("form.add-to-collection")
        form.locator("input[name=note]").fill(note)
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()

    page.goto(f"{base}/collections/")
    page.get_by_role("link", name="Statins for secondary prevention").click()
    page.wait_for_url(f"{base}/collections/*/")
    items = page.locator("li.item")
    assert items.count() == 3
    shown_notes = [items.nth(i).locator("textarea[name=note]").input_value() for i in range(3)]
    assert sorted(shown_notes) == sorted(NOTES)

    page.fill("#snapshot-label", "Panel meeting 1")
    page.click("text=Freeze snapshot")
    page.wait_for_url(f"{base}/collections/*/snapshots/*/")
    content_hash = page.locator("code.content-hash").inner_text()
    assert len(content_hash) == 64
    assert page.locator("li.item").count() == 3

    with page.expect_download() as download_info:
        page.locator("ul.exports").get_by_role("link", name="RIS", exact=True).click()
    ris_path = tmp_path / "snapshot.ris"
    download_info.value.save_as(ris_path)

    entries = rispy.loads(ris_path.read_text(encoding="utf-8"))
    collection = Collection.objects.get(name="Statins for secondary prevention")
    snapshot = Snapshot.objects.get(collection=collection)
    assert snapshot.content_hash == content_hash
    frozen_titles = list(snapshot.items.order_by("position").values_list("title", flat=True))
    assert [entry["title"] for entry in entries] == frozen_titles
    assert sorted(snapshot.items.values_list("note", flat=True)) == sorted(NOTES)
    assert all("Aspirin" not in title for title in frozen_titles)
