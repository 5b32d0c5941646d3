"""An admin starts a rebuild from /ops/ in real Chromium, watches the bar reach 100 % without
reloading the page (a real worker over the real Redis broker does the work), and sees the live
generation change."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from search.backends import get_backend
from search.indexing import rebuild_index
from tests.browser.conftest import browser, page
from tests.operations.test_workers import corpus
from tests.operations.workers import ops_env
from tests.workers import HarvestEnv

__all__ = ["browser", "ops_env", "page"]

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_admin_rebuilds_the_index_and_watches_the_bar_reach_100(
    ops_env: HarvestEnv, live_server: Any, page: Any
) -> None:
    corpus(60)
    before = rebuild_index().generation
    User.objects.create_user("admin", password="pw-admin-1234", is_staff=True)
    ops_env.start_worker()

    page.goto(f"{live_server.url}/ops/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pw-admin-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/ops/")
    assert page.text_content("#live-generation").strip() == before

    page.click("#start-rebuild")
    page.wait_for_url(f"{live_server.url}/ops/jobs/*/")
    assert page.text_content('[data-field="percent"]').strip() == "0.0 %"
    page.evaluate("window.notReloaded = true")

    page.wait_for_function(
        "() => { const b = document.querySelector('progress.job-bar'); return b && b.value === b.max && b.max > 1; }",
        timeout=120_000,
    )
    page.wait_for_function(
        "() => document.querySelector('[data-field=\"status\"]').textContent === 'succeeded'", timeout=60_000
    )
    assert page.evaluate("window.notReloaded") is True
    assert page.text_content('[data-field="percent"]').strip() == "100.0 %"
    assert page.evaluate("document.querySelector('progress.job-bar').max") == 60
    after = page.text_content('[data-field="live_generation"]').strip()
    assert after != before and after == get_backend().live_generation()
    assert page.locator(".job-cancel").is_hidden()
