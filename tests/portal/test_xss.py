"""A record whose title and abstract carry script and HTML attributes renders escaped everywhere."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from records.models import EvidenceRecord

pytestmark = pytest.mark.django_db

INJECTED_TAGS = {"script", "img", "b", "i"}


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_escaped(html: str) -> None:
    """No injected element or event-handler attribute made it into the markup as markup."""
    parser = TagCollector()
    parser.feed(html)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & INJECTED_TAGS, f"injected elements in the page: {tags & INJECTED_TAGS}"
    handlers = [(tag, name) for tag, attrs in parser.tags for name, _ in attrs if name.startswith("on")]
    assert not handlers, f"event handler attributes in the page: {handlers}"
    assert "&lt;script&gt;" in html, "the text is still shown, escaped"


def test_search_results_escape_title_abstract_and_highlights(client: Client, xss_record: EvidenceRecord) -> None:
    response = client.get("/search", {"q": "statin script"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="card-title"' in html, "the record was found"
    assert "<mark>" in html, "highlights are still applied"
    body = html[html.index("<main") : html.index("</main>")]
    assert_escaped(body)


def test_record_page_escapes_every_field(client: Client, xss_record: EvidenceRecord) -> None:
    html = client.get(f"/records/{xss_record.pmid}", {"q": "statin"}).content.decode()
    body = html[html.index("<main") : html.index("</main>")]
    assert_escaped(body)
    assert "&lt;script&gt;alert(&#x27;mesh&#x27;)&lt;/script&gt;" in body
    title = html[html.index("<title>") : html.index("</title>")]
    assert "<script" not in title[len("<title>") :]


def test_api_snippet_is_escaped_html(client: Client, xss_record: EvidenceRecord) -> None:
    result = client.get("/api/v1/search", {"q": "statin"}).json()["results"][0]
    parser = TagCollector()
    parser.feed(result["snippet"])
    assert {tag for tag, _ in parser.tags} == {"mark"}, "the snippet's only markup is the highlight"
    assert all(attrs == [] for _, attrs in parser.tags)
    assert result["title"] == xss_record.title  # JSON carries the raw text; clients escape it
