"""Real Chromium (Debian's package, never a downloaded browser) against pytest-django's live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from records.models import EvidenceRecord
from search.backends import reset_backends
from tests.portal.corpus import build_corpus, point_embedded_index_at

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (Playwright's event loop must not outlive the module)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (Debian package `chromium`)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
    # (fixtures, assertions) are ordinary blocking calls, so Django's async guard is lifted meanwhile.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class PageWatch:
    """Every request a page made and every content-security-policy violation it reported."""

    requests: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def third_party(self) -> list[str]:
        """Requests that left 127.0.0.1 / localhost (data: and blob: URLs never leave)."""
        local = {"127.0.0.1", "localhost", "[::1]", "::1"}
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname not in local
        ]

    def check(self) -> None:
        assert not self.violations, f"content security policy violations: {self.violations}"
        assert not self.third_party(), f"requests to third parties: {self.third_party()}"


def watch(page: Any) -> PageWatch:
    """Record the page's requests and CSP violations (Chromium reports them on the console)."""
    seen = PageWatch()
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on(
        "console",
        lambda message: seen.violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return seen


@contextmanager
def watched_page(browser: Any, **context_options: Any) -> Iterator[Any]:
    """A page in a new browser context; fails on a CSP violation or a request to a third party."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    seen = watch(page)
    yield page
    context.close()
    seen.check()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop page; the test fails on a CSP violation or a request to a third party."""
    with watched_page(browser, viewport=DESKTOP, accept_downloads=True) as desktop:
        yield desktop


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A phone-sized page; the test fails on a CSP violation or a request to a third party."""
    with watched_page(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True) as phone:
        yield phone


@pytest.fixture
def site(transactional_db: None, live_server: Any, settings: Any, tmp_path: Path) -> Iterator[tuple[str, dict]]:
    """The live server's URL and the indexed statin corpus it serves."""
    point_embedded_index_at(settings, tmp_path / "index")
    records: dict[str, EvidenceRecord] = build_corpus()
    yield str(live_server.url), records
    reset_backends()
