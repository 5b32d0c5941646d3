"""Guideline documents made in the tests: a PDF (with and without a text layer), HTML and DOCX.

Each holds the same short guideline with two recommendations the splitter must find, so the
harvest and upload tests can check exactly what was stored.
"""

from __future__ import annotations

import io

HEADING = "Recommendations"
RECOMMENDATIONS = (
    "1. We recommend offering ambulatory blood pressure monitoring to adults with suspected hypertension "
    "(strong recommendation, moderate certainty of evidence).",
    "2. We suggest home blood pressure monitoring when ambulatory monitoring is unavailable "
    "(conditional recommendation, low certainty of evidence).",
)
INTRODUCTION = "This guideline covers the diagnosis of high blood pressure in adults."


def guideline_html(title: str) -> bytes:
    items = "".join(f"<p>{text}</p>" for text in RECOMMENDATIONS)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title><script>alert('never run')</script></head>"
        f"<body><h1>{title}</h1><p>{INTRODUCTION}</p><h2>{HEADING}</h2>{items}</body></html>"
    ).encode()


def guideline_pdf(title: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, INTRODUCTION, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=14)
    pdf.multi_cell(0, 10, HEADING, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for text in RECOMMENDATIONS:
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return bytes(pdf.output())


def scanned_pdf() -> bytes:
    """A PDF whose page is only a drawing: no text layer, as a scanned document."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def guideline_docx(title: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    document.add_paragraph(INTRODUCTION)
    document.add_heading(HEADING, level=2)
    for text in RECOMMENDATIONS:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def encrypted_pdf(title: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(guideline_pdf(title))))
    writer.encrypt(user_password="secret", owner_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """A DOCX-shaped zip whose document part inflates a thousandfold."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b" " * 20_000_000 + b"</w:document>")
    return out.getvalue()
