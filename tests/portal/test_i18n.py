"""The interface in Simplified Chinese: complete catalogue, browser language, remembered switch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    """A request leaves its language active in the thread: give the next test English back."""
    yield
    translation.activate("en")


PO = REPO_ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# Entries whose Chinese is the same text (codes and names kept as they are).
SAME_IN_CHINESE = {"DOI", "RCT"}


def catalogue_entries(path: Path) -> list[tuple[str, str]]:
    """Return (msgid, msgstr or msgstr[0]) of every entry, multi-line strings joined."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        for line in block.splitlines():
            m = re.match(r'^(msgid|msgid_plural|msgstr|msgstr\[0\]) "(.*)"$', line)
            if m:
                current = m.group(1)
                fields[current] = m.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            entries.append((fields["msgid"], fields.get("msgstr", fields.get("msgstr[0]", ""))))
    return entries


def test_chinese_catalogue_is_complete_and_compiled() -> None:
    entries = catalogue_entries(PO)
    assert len(entries) > 250
    untranslated = [msgid for msgid, msgstr in entries if not msgstr]
    assert untranslated == []
    with translation.override("zh-hans"):
        for msgid, _ in entries:
            text = msgid.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
            if "%" in text or text in SAME_IN_CHINESE or "\\" in msgid:
                continue
            # The compiled .mo answers every entry of the .po: it is not stale.
            assert translation.gettext(text) != text, text


def test_browser_language_chooses_chinese(client: Client) -> None:
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "检索证据" in html and "Search the evidence" not in html
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()
    assert '<html lang="en">' in english and "Search the evidence" in english


def test_language_switch_is_remembered(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "检索证据" in html  # the cookie wins over the browser's language
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Search the evidence" in client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


def test_error_page_in_chinese(client: Client) -> None:
    response = client.get("/records/999999999", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


def test_results_evidence_levels_and_explanations_in_chinese(client: Client, corpus: dict) -> None:
    html = client.get("/search", {"q": "statin"}, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "证据级别：系统评价 / 荟萃分析" in html  # noqa: RUF001 (the badge label)
    assert "条记录" in html and "筛选" in html
    record = client.get(f"/records/{corpus['review'].pmid}", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '系统评价 / 荟萃分析：PubMed 出版类型 <span lang="en">Meta-Analysis</span>' in record  # noqa: RUF001
