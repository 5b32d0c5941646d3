"""The main pages in Chinese, in real Chromium: no untranslated English outside record content.

The browser asks for Chinese (``Accept-Language: zh-CN``). Record content (titles, abstracts,
authors, journals, PubMed vocabulary) is English and marked ``lang="en"``; everything else the
page says must be Chinese. A few codes and names stay as they are everywhere (PubMed, DOI...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Names and codes a Chinese interface keeps in Latin letters.
KEPT = {
    "PubMed",
    "DOI",
    "PMC",
    "PMID",
    "RCT",
    "PICO",
    "RIS",
    "BibTeX",
    "BM25",
    "BIBTEX",
    "TABLE-CSV",
    "SHA-256",
    "MeSH",
    "API",
    "GRADE",
    "CSV",
    "SHA",
    "Haynes",
    "HTML",
    "JSON",
    "PrEP",
    "HIV",
    "PDF",
    "DOCX",
    "OCR",
    "KB",
    "MB",
    "GB",
    "Celery",
    "beat",
    "cron",
    "Entrez",
    "UTC",
}

VERSION = re.compile(r"v\d+$")  # a snapshot's number, "v2"

# Visible and screen-reader text outside elements marked lang="en" (record content).
TEXT_OUTSIDE_ENGLISH = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script,style,noscript,[translate="no"]')) continue;
    const marked = parent.closest('[lang]');
    if (marked && marked.getAttribute('lang').toLowerCase().startsWith('en')) continue;
    if (node.textContent.trim()) out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll('[aria-label],[title],[placeholder]')) {
    const marked = el.closest('[lang]');
    if (marked && marked.getAttribute('lang').toLowerCase().startsWith('en')) continue;
    if (el.closest('[translate="no"]')) continue;
    for (const name of ['aria-label', 'title', 'placeholder']) {
      const value = el.getAttribute(name);
      if (value) out.push(value);
    }
  }
  return out;
}"""


def english_left(page: Any) -> list[str]:
    """Return the English words the page shows outside record content."""
    words = []
    for text in page.evaluate(TEXT_OUTSIDE_ENGLISH):
        words += [w for w in re.findall(r"[A-Za-z][A-Za-z0-9'-]+", text) if w not in KEPT and not VERSION.match(w)]
    return words


@pytest.fixture
def zh_page(browser: Any) -> Iterator[Any]:
    """A desktop page whose browser asks for Chinese."""
    with watched_page(browser, viewport=DESKTOP, locale="zh-CN") as page:
        yield page


def test_main_pages_in_chinese_show_no_untranslated_english(zh_page: Any, site: tuple[str, dict]) -> None:
    from tests.curation.conftest import make_user

    base, records = site
    page = zh_page
    visited = {}
    page.goto(base + "/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    visited["home"] = english_left(page)
    page.fill("#q", "statin")
    page.press("#q", "Enter")
    page.wait_for_selector(".result-list")
    visited["results"] = english_left(page)
    page.goto(base + "/search?q=" + "他汀 心血管疾病 一级预防")
    page.wait_for_selector(".result-list")
    assert page.locator("#bottom-line-heading").inner_text() == "要点结论"
    visited["chinese query and bottom line"] = english_left(page)
    page.goto(f"{base}/records/{records['review'].pmid}?q=statin")
    visited["record"] = english_left(page)
    page.goto(base + "/search?q=今天天气怎么样")
    assert "未找到相关内容" in page.content()
    visited["nothing relevant"] = english_left(page)
    page.goto(base + "/records/999999999")
    visited["404"] = english_left(page)
    page.goto(base + "/search?year_from=abc")
    visited["400"] = english_left(page)

    make_user("olivia")
    page.goto(base + "/accounts/login/?next=/collections/")
    visited["sign in"] = english_left(page)
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "pw-olivia")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/collections/")
    visited["collections"] = english_left(page)
    page.fill("#new-name", "他汀证据")
    page.locator("form.stacked button[type=submit]").click()
    page.wait_for_url(f"{base}/collections/*/")
    visited["collection"] = english_left(page)

    # The collection with an item, a saved search and a snapshot: its page, the snapshot, the table.
    from curation.models import Collection
    from curation.services import item_add, saved_search_create
    from curation.snapshots import snapshot_create

    collection = Collection.objects.get(name="他汀证据")
    owner = collection.owner
    item_add(user=owner, collection=collection, record=records["review"].uid)
    saved_search_create(user=owner, collection=collection, query="statin", filters={"year_from": 2010})
    snapshot = snapshot_create(user=owner, collection=collection, label="v1")
    page.goto(f"{base}/collections/{collection.pk}/")
    visited["collection with a snapshot"] = english_left(page)
    page.goto(f"{base}/collections/{collection.pk}/snapshots/{snapshot.pk}/")
    visited["snapshot"] = english_left(page)
    assert "冻结" in page.locator("p.meta").inner_text()
    page.goto(f"{base}/collections/{collection.pk}/snapshots/{snapshot.pk}/table")
    visited["evidence table"] = english_left(page)
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    leftovers = {name: sorted(set(words)) for name, words in visited.items() if words}
    print("UNTRANSLATED", leftovers)
    assert not leftovers, leftovers


def test_language_switch_is_remembered_across_pages(page: Any, site: tuple[str, dict]) -> None:
    base, _ = site
    page.goto(base + "/")
    assert page.locator("#q").evaluate("el => el.labels[0].textContent") == "Search the evidence"
    page.select_option("#language-select", "zh-hans")
    page.locator("form.language-switch button").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.goto(base + "/search?q=statin")
    assert "检索" in page.locator("button.button").first.inner_text()


def test_guideline_account_and_operations_pages_in_chinese(zh_page: Any, site: tuple[str, dict]) -> None:
    from tests.curation.conftest import make_user
    from tests.guidelines.corpus import statin_guideline, store_and_index

    base, _ = site
    page = zh_page
    visited = {}
    guideline = store_and_index(statin_guideline(), vectors=False)
    page.goto(f"{base}/guidelines/{guideline.pk}/")
    assert page.locator("h1.record-title").get_attribute("lang") == "en"
    assert "临床实践指南" in page.content()
    visited["guideline"] = english_left(page)
    page.goto(base + "/accounts/password_reset/")
    assert page.locator("h1").inner_text() == "重置密码"
    visited["password reset"] = english_left(page)

    staff = make_user("sam")
    staff.is_staff = True
    staff.save()
    page.goto(base + "/accounts/login/?next=/guidelines/upload/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "pw-sam")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/guidelines/upload/")
    assert page.locator("h1").inner_text() == "上传指南"
    visited["guideline upload"] = english_left(page)
    page.goto(base + "/accounts/tokens/")
    page.fill("#token-name", "脚本")
    page.locator("form.inline button[type=submit]").last.click()
    page.wait_for_selector("p[role=status]")
    visited["API tokens"] = english_left(page)
    page.goto(base + "/accounts/password_change/")
    visited["password change"] = english_left(page)
    page.goto(base + "/ops/")
    assert page.locator("h1").inner_text() == "运维"
    visited["operations"] = english_left(page)
    page.goto(base + "/ops/sources/")
    visited["operations sources"] = english_left(page)
    from operations import services

    job = services.job_start(kind="rebuild_index", user=staff, enqueue=False)
    page.goto(f"{base}/ops/jobs/{job.pk}/")
    assert page.locator('[data-field="status"]').inner_text() == "排队中"
    visited["operations job"] = english_left(page)
    page.goto(base + "/ops/jobs/")
    visited["operations history"] = english_left(page)
    page.goto(base + "/ops/audit/")
    visited["operations audit"] = english_left(page)

    leftovers = {name: sorted(set(words)) for name, words in visited.items() if words}
    print("UNTRANSLATED", leftovers)
    assert not leftovers, leftovers
