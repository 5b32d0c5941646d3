"""In a real browser: a guideline author uploads a PDF guideline and sees it stored; a scanned PDF
is refused with the reason. No content-security-policy violation on the way (the ``page`` fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from guidelines.models import Guideline
from records.models import EvidenceRecord
from tests.guidelines.documents import guideline_pdf, scanned_pdf

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_author_uploads_a_pdf_guideline_and_a_scanned_one_is_refused(
    transactional_db: None, live_server: Any, page: Any, tmp_path: Path
) -> None:
    from tests.curation.conftest import make_user

    make_user("olivia")
    good, scanned = tmp_path / "hypertension.pdf", tmp_path / "scan.pdf"
    good.write_bytes(guideline_pdf("Hypertension in adults"))
    scanned.write_bytes(scanned_pdf())
    base = live_server.url

    page.goto(f"{base}/accounts/login/?next=/collections/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "pw-olivia")
    page.click("button[type=submit]")
    page.click("text=Upload a guideline")
    page.wait_for_url(f"{base}/guidelines/upload/")

    def upload(path: Path) -> None:
        page.set_input_files("#id_document", str(path))
        page.fill("#id_title", "Hypertension in adults")
        page.fill("#id_issuer", "Example Society")
        page.fill("#id_year", "2023")
        page.fill("#id_url", "https://example.org/hypertension")
        page.click("button:has-text('Upload')")

    upload(scanned)
    assert "no text layer, OCR is not supported" in page.locator("ul.errorlist").inner_text()
    assert not Guideline.objects.exists()

    upload(good)
    page.wait_for_url(f"{base}/guidelines/upload/")
    assert page.locator(".messages").count() == 1  # shown once, by the base template
    assert "stored as a new guideline, 2 recommendation(s)" in page.locator(".messages").inner_text()
    guideline = Guideline.objects.get()
    assert (guideline.title, guideline.issuer, guideline.year) == ("Hypertension in adults", "Example Society", 2023)
    assert EvidenceRecord.objects.filter(guideline=guideline, kind="recommendation").count() == 2
