"""Every page, in a real browser with the content security policy enforced: no request leaves
the host (no CDN, font or analytics), no inline script or style is refused, and every page carries
the policy and ``X-Content-Type-Options: nosniff``."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from curation.models import AUTHORS_GROUP
from curation.services import collection_create, item_add
from curation.snapshots import snapshot_create
from tests.browser.conftest import watch

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _visit_all(page: Any, base: str, paths: list[str]) -> list[tuple[str, int, dict[str, str]]]:
    """Open each path; return (path, status, headers) of every document the browser loaded."""
    documents: list[tuple[str, int, dict[str, str]]] = []
    page.on(
        "response",
        lambda response: (
            documents.append((response.url, response.status, response.headers))
            if response.request.resource_type == "document"
            else None
        ),
    )
    for path in paths:
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
    return documents


def test_every_page_stays_on_this_host_and_keeps_the_content_security_policy(site: Any, browser: Any) -> None:
    base, records = site
    author = User.objects.create_user("olivia", password="pw-olivia")
    author.groups.add(Group.objects.get_or_create(name=AUTHORS_GROUP)[0])
    User.objects.create_user("sam", password="pw-sam", is_staff=True, is_superuser=True)
    collection = collection_create(user=author, name="Statins")
    item_add(user=author, collection=collection, record=records["trial"].pmid or records["trial"].uid)
    snapshot = snapshot_create(user=author, collection=collection, label="v1")
    record = records["trial"]
    key = record.pmid or record.uid

    visits = {
        None: [
            "/",
            "/search?q=statin+stroke&level=rct",
            f"/records/{key}?q=statin",
            "/accounts/login/",
            "/accounts/password_reset/",
            "/collections/",
        ],
        "olivia": [
            "/collections/",
            f"/collections/{collection.pk}/",
            f"/collections/{collection.pk}/table",
            f"/collections/{collection.pk}/snapshots/{snapshot.pk}/",
            f"/collections/{collection.pk}/snapshots/{snapshot.pk}/table",
            "/accounts/tokens/",
            "/accounts/password_change/",
        ],
        "sam": [
            "/admin/",
            "/admin/records/evidencerecord/",
            f"/admin/records/evidencerecord/{record.pk}/change/",
            "/admin/auth/user/",
        ],
    }
    for username, paths in visits.items():
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(20_000)
        seen = watch(page)
        try:
            if username:
                _sign_in(page, base, username)
            documents = _visit_all(page, base, paths)
        finally:
            context.close()
        seen.check()
        assert len(seen.requests) > len(paths)  # pages, and their own scripts and styles
        for url, status, headers in documents:
            assert status < 400, (url, status)
            assert "script-src 'self'" in headers.get("content-security-policy", ""), url
            assert "unsafe-inline" not in headers["content-security-policy"], url
            assert headers.get("x-content-type-options") == "nosniff", url
