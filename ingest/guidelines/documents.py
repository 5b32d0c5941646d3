"""Text out of uploaded guideline documents: PDF (pypdf), DOCX (python-docx), HTML (lxml).

Headings are kept as ``# `` lines and list items as ``•`` lines (the splitter's line form).
Nothing in a document is executed: HTML scripts and styles are dropped, PDF JavaScript and
forms are not read. Limits are checked before parsing: the size limit, and for DOCX (a zip)
the total uncompressed size and compression ratio (a zip bomb is refused unopened).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import lxml.etree
import lxml.html

from ingest.guidelines.text import clean_inline, element_to_lines
from ingest.guidelines.types import GuidelineParseError

MAX_ZIP_RATIO = 100  # uncompressed / compressed, over the whole archive
MAX_ZIP_ENTRIES = 10_000
MAX_PDF_PAGES = 2_000


@dataclass(frozen=True)
class ExtractedText:
    """The text of a document in the splitter's line form, and what it says about itself."""

    text: str
    format: str
    title: str = ""
    pages: int | None = None


def extract_text(data: bytes, *, filename: str, max_bytes: int) -> ExtractedText:
    """Return the text of a PDF, DOCX or HTML document (chosen by content, then by name).

    Raises GuidelineParseError: over ``max_bytes``; a PDF with no text layer ("no text layer,
    OCR is not supported"); an encrypted PDF; a DOCX that is a zip bomb; an unknown format.
    """
    if len(data) > max_bytes:
        raise GuidelineParseError(f"the file is {len(data)} bytes, over the limit of {max_bytes} bytes")
    kind = document_kind(filename, data[:4096])
    if kind == "pdf":
        return _pdf(data)
    if kind == "docx":
        return _docx(data, max_bytes=max_bytes)
    if kind == "html":
        return _html(data)
    if kind == "text":
        return ExtractedText(text=data.decode("utf-8", errors="replace"), format="text")
    raise GuidelineParseError(f"{filename}: not a PDF, DOCX, HTML or text document")


def document_kind(filename: str, head: bytes) -> str:
    """Return "pdf", "docx", "html", "text" or "" for a document's name and first bytes."""
    name = filename.lower()
    stripped = head.lstrip()[:512].lower()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") and (
        name.endswith(".docx") or b"word/" in head or b"[content_types]" in head.lower()
    ):
        return "docx"
    if stripped.startswith((b"<!doctype html", b"<html")) or b"<html" in stripped or name.endswith((".html", ".htm")):
        return "html"
    if name.endswith(".pdf"):
        return "pdf"
    if name.endswith(".docx"):
        return "docx"
    if name.endswith((".txt", ".md")):
        return "text"
    return ""


def _pdf(data: bytes) -> ExtractedText:
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise GuidelineParseError("the PDF is encrypted (password-protected); upload an unprotected copy")
        pages = reader.pages
        count = len(pages)
        if count > MAX_PDF_PAGES:
            raise GuidelineParseError(f"the PDF has {count} pages, over the limit of {MAX_PDF_PAGES}")
        lines: list[str] = []
        for page in pages:
            text = page.extract_text() or ""
            lines.extend(line.rstrip() for line in text.splitlines())
            lines.append("")
        title = ""
        try:
            metadata = reader.metadata
            title = clean_inline(str(metadata.get("/Title") or "")) if metadata is not None else ""
        except Exception:  # broken metadata does not lose the text
            title = ""
    except GuidelineParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise GuidelineParseError(f"the PDF could not be read: {exc}") from exc
    text = "\n".join(lines).strip()
    if len(re.sub(r"\W", "", text)) < 20:
        raise GuidelineParseError("no text layer, OCR is not supported")
    return ExtractedText(text=text, format="pdf", title=title, pages=count)


def check_zip(data: bytes, *, max_bytes: int) -> None:
    """Raise GuidelineParseError when a zip archive would expand past the limits (a zip bomb)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise GuidelineParseError(f"not a valid DOCX (zip) file: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise GuidelineParseError(f"the DOCX holds {len(infos)} files: refused as a zip bomb")
        total = sum(info.file_size for info in infos)
        compressed = max(1, sum(info.compress_size for info in infos))
        if total > max_bytes or total / compressed > MAX_ZIP_RATIO:
            raise GuidelineParseError(
                f"the DOCX would expand to {total} bytes ({total // compressed}x its size): refused as a zip bomb"
            )


def _docx(data: bytes, *, max_bytes: int) -> ExtractedText:
    check_zip(data, max_bytes=max_bytes)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, lxml.etree.XMLSyntaxError, zipfile.BadZipFile) as exc:
        raise GuidelineParseError(f"the DOCX could not be read: {exc}") from exc
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = clean_inline(paragraph.text)
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.lower().startswith(("heading", "title")):
            lines.append("# " + text)
        elif "list" in style.lower():
            level = 0
            match = re.search(r"(\d+)$", style)
            if match:
                level = max(0, int(match.group(1)) - 1)
            lines.append("  " * level + "• " + text)
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [clean_inline(cell.text) for cell in row.cells]
            line = " | ".join(c for c in cells if c)
            if line:
                lines.append(line)
    title = clean_inline(document.core_properties.title or "")
    return ExtractedText(text="\n".join(lines), format="docx", title=title)


def _html(data: bytes) -> ExtractedText:
    try:
        root = lxml.html.document_fromstring(data)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise GuidelineParseError(f"the HTML could not be read: {exc}") from exc
    title_el = root.find(".//title")
    title = clean_inline(title_el.text_content()) if title_el is not None else ""
    body = root.find("body")
    lines = element_to_lines(body if body is not None else root)
    return ExtractedText(text="\n".join(lines), format="html", title=title)
