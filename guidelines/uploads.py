"""Uploads: a guideline document (PDF, HTML, DOCX) with its metadata, stored like a harvested one.

``guideline_upload`` is the one service behind ``manage.py import_guideline`` and the upload
page: it extracts the text, splits it into recommendations, stores it through
``guidelines.services.guideline_store`` (so an upload of a document already harvested is the same
guideline) and hands the changed records to grading and indexing after the commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ingest.guidelines.types import GuidelineParseError

UPLOAD_SOURCE = "upload"
UPLOAD_SUFFIXES = (".pdf", ".html", ".htm", ".docx")


def upload_max_bytes() -> int:
    """Return the largest document accepted, in bytes (``GUIDELINE_MAX_BYTES``)."""
    return int(settings.GUIDELINE_MAX_BYTES)


def size_limit_message(*, name: str, size: int, limit: int) -> str:
    return f"{name} is {size:,} bytes, over the size limit of {limit:,} bytes (GUIDELINE_MAX_BYTES)"


@dataclass(frozen=True)
class UploadResult:
    """What an upload stored: the guideline, what happened to it, how many recommendations."""

    guideline_id: int | None
    outcome: str
    recommendations: int


def guideline_upload(
    *,
    data: bytes,
    filename: str,
    title: str,
    issuer: str,
    year: int | None,
    url: str = "",
    version: str = "",
) -> UploadResult:
    """Extract, split and store an uploaded guideline document; return what was stored.

    Raises ``GuidelineParseError`` with a reason a person can act on: an unsupported file type,
    a document over ``GUIDELINE_MAX_BYTES``, a PDF with no text layer or an encrypted one, a
    DOCX that is a zip bomb, a document with no text. Nothing is stored then.
    """
    from guidelines.services import guideline_store
    from ingest.guidelines.documents import extract_text
    from ingest.guidelines.splitter import guideline_from_text

    name = PurePath(filename).name or "document"
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise GuidelineParseError(f"{name}: not a PDF, HTML or DOCX file (by its name)")
    if not title.strip():
        raise GuidelineParseError("a title is required")
    limit = upload_max_bytes()
    if len(data) > limit:
        raise GuidelineParseError(size_limit_message(name=name, size=len(data), limit=limit))
    extracted = extract_text(data, filename=name, max_bytes=limit)
    parsed = guideline_from_text(
        extracted.text,
        source=UPLOAD_SOURCE,
        source_id=f"sha256:{hashlib.sha256(data).hexdigest()}",
        title=title.strip(),
        issuer=issuer.strip(),
        year=year,
        url=url.strip(),
        version=version.strip(),
    )
    with transaction.atomic():
        result = guideline_store(parsed=parsed, harvested_at=timezone.now())
        if result.changed_record_ids:
            from ingest.pipeline import records_changed

            ids = list(result.changed_record_ids)
            transaction.on_commit(lambda: records_changed(ids))
    return UploadResult(result.guideline_id, result.outcome, len(parsed.recommendations))
