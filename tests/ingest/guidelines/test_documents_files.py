from __future__ import annotations

import gzip
import io
import zipfile

import pytest
from fpdf import FPDF

from ingest.guidelines.documents import extract_text
from ingest.guidelines.files import detect_format, read_guideline_path, read_guideline_paths
from ingest.guidelines.splitter import guideline_from_text
from ingest.guidelines.types import DeletedGuideline, GuidelineParseError, ParsedGuideline
from records.types import ParseProblem

MB = 1024 * 1024

RECOMMENDATIONS = [
    "Recommendations",
    "1. We recommend screening all adults for hypertension (strong recommendation, moderate certainty of evidence).",
    "2. We suggest against routine screening with ECG (conditional recommendation, low-quality evidence).",
    "3. Offer lifestyle advice to every adult with raised blood pressure. (1B)",
]


def _pdf(lines, *, encrypt=False, text=True):
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    if text:
        for line in lines:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.rect(20, 20, 100, 60, style="F")  # a scanned page: drawing, no text layer
    if encrypt:
        pdf.set_encryption(owner_password="owner", user_password="user")
    return bytes(pdf.output())


def _docx(paragraphs):
    import docx

    document = docx.Document()
    document.add_heading("Hypertension guideline", level=1)
    document.add_heading(paragraphs[0], level=2)
    for text in paragraphs[1:]:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _expect_three(text):
    recs = guideline_from_text(text, source="upload", source_id="t", title="T").recommendations
    assert [r.number for r in recs] == ["1", "2", "3"]
    assert [(r.strength, r.certainty, r.direction) for r in recs] == [
        ("strong", "moderate", "for"),
        ("conditional", "low", "against"),
        ("strong", "moderate", "for"),
    ]
    assert recs[0].text.startswith("We recommend screening all adults for hypertension")
    return recs


def test_pdf_made_in_the_test_splits_into_recommendations():
    extracted = extract_text(_pdf(RECOMMENDATIONS), filename="g.pdf", max_bytes=MB)
    assert extracted.format == "pdf" and extracted.pages == 1
    _expect_three(extracted.text)


def test_docx_made_in_the_test_splits_into_recommendations():
    extracted = extract_text(_docx(RECOMMENDATIONS), filename="g.docx", max_bytes=MB)
    assert extracted.text.startswith("# Hypertension guideline\n# Recommendations")
    recs = _expect_three(extracted.text)
    assert recs[0].section == "Recommendations"


def test_html_made_in_the_test_splits_and_drops_scripts():
    html = (
        "<html><head><title>HTN</title><script>var secret = 'SCRIPT-TEXT';</script><style>p{x:1}</style></head>"
        "<body><h2>Recommendations</h2><ol>"
        + "".join(f"<li>{line.split('. ', 1)[1]}</li>" for line in RECOMMENDATIONS[1:])
        + "</ol><script>document.write('SCRIPT-TEXT-2')</script><p onclick=\"alert('x')\">Footer.</p></body></html>"
    ).encode()
    extracted = extract_text(html, filename="g.html", max_bytes=MB)
    assert "SCRIPT-TEXT" not in extracted.text and "p{x:1}" not in extracted.text and "alert" not in extracted.text
    assert extracted.title == "HTN"
    _expect_three(extracted.text)


def test_pdf_without_text_layer_is_refused_with_the_reason():
    with pytest.raises(GuidelineParseError, match="no text layer, OCR is not supported"):
        extract_text(_pdf([], text=False), filename="scan.pdf", max_bytes=MB)


def test_encrypted_pdf_is_refused():
    with pytest.raises(GuidelineParseError, match="encrypted"):
        extract_text(_pdf(RECOMMENDATIONS, encrypt=True), filename="locked.pdf", max_bytes=MB)


def test_oversize_document_is_refused():
    with pytest.raises(GuidelineParseError, match="over the limit"):
        extract_text(_pdf(RECOMMENDATIONS), filename="g.pdf", max_bytes=100)


def test_docx_zip_bomb_is_refused_before_opening():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (20 * MB))
    with pytest.raises(GuidelineParseError, match="zip bomb"):
        extract_text(buffer.getvalue(), filename="bomb.docx", max_bytes=50 * MB)


def test_unknown_document_is_a_clear_error():
    with pytest.raises(GuidelineParseError, match="not a PDF, DOCX, HTML or text"):
        extract_text(b"\x00\x01binary", filename="x.bin", max_bytes=MB)


def test_detect_format():
    assert detect_format("a.json", b'{"specificRecommendations": []}') == "uspstf"
    assert detect_format("a.json", b'{"resourceType": "Composition"}') == "fhir"
    assert detect_format("a.xml", b'<?xml version="1.0"?><OAI-PMH xmlns="x">') == "oai"
    assert detect_format("a.xml", b'<?xml version="1.0"?><rss version="2.0">') == "feed"
    assert detect_format("a.xml", b'<Version><Section Name="x"><Field FieldID="1">') == "ngc"
    assert detect_format("a.xml", b"<guidelines><provider name='NICE'>") == "nice_xml"
    assert detect_format("a.csv", b"url,title,technology_type,decision_date\n") == "nice_csv"
    assert detect_format("a.pdf", b"%PDF-1.7") == "pdf"
    assert detect_format("a.docx", b"PK\x03\x04") == "docx"
    assert detect_format("a.html", b"<!DOCTYPE html><html>") == "html"
    assert detect_format("a.txt", b"plain") == "text"


def test_bad_files_yield_one_problem_each(tmp_path, settings):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<OAI-PMH><ListRecords>")
    gz = tmp_path / "broken.json.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    settings.GUIDELINE_MAX_BYTES = 2048
    big = tmp_path / "big.txt"
    big.write_bytes(b"We recommend X.\n" * 1000)
    big_gz = tmp_path / "big.txt.gz"
    big_gz.write_bytes(gzip.compress(b"We recommend X.\n" * 1000))
    for path in (bad, gz, big, big_gz):
        items = list(read_guideline_path(path))
        assert len(items) == 1 and isinstance(items[0], ParseProblem), path
        assert items[0].location == str(path) and items[0].reason
    assert "over the limit" in next(iter(read_guideline_path(big))).reason
    assert "GUIDELINE_MAX_BYTES" in next(iter(read_guideline_path(big_gz))).reason


def test_text_file_and_gzip_read_through_the_splitter(tmp_path):
    path = tmp_path / "guideline.txt.gz"
    path.write_bytes(gzip.compress("\n".join(RECOMMENDATIONS).encode()))
    (g,) = list(read_guideline_path(path))
    assert isinstance(g, ParsedGuideline) and len(g.recommendations) == 3 and g.source == "upload"


@pytest.mark.shared_data
def test_every_shared_file_reads_and_fhir_groups_across_files(shared_data):
    folder = shared_data / "guidelines"
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".txt"))
    items = list(read_guideline_paths(paths))
    problems = [i for i in items if isinstance(i, ParseProblem)]
    # The two recorded non-guideline OAI files: an error response and a bare metadata document.
    assert sorted(p.location.rsplit("--", 1)[-1] for p in problems) == ["00006.xml", "BadResponseNonExistentVerb.xml"]
    guidelines = [i for i in items if isinstance(i, ParsedGuideline)]
    assert any(isinstance(i, DeletedGuideline) for i in items)
    by_source = {}
    for g in guidelines:
        by_source.setdefault(g.source, []).append(g)
    assert len(by_source["ngc"]) == 107 and len(by_source["nice"]) == 147 + 15
    pneumonia = next(g for g in by_source["fhir"] if g.source_id == "Composition/NosokomialePneumonie")
    assert len(pneumonia.recommendations) == 3  # its recommendations came from four other files
    cdc = [g for g in by_source["fhir"] if g.title.startswith("2022 CDC")]
    assert len(cdc) == 1 and len(cdc[0].recommendations) == 11


@pytest.mark.shared_data
def test_nice_lists_are_metadata_only(shared_data):
    items = list(read_guideline_path(shared_data / "guidelines" / "nice_guidance_2000-01-01_2025-02-15.csv"))
    assert len(items) == 15 and all(isinstance(g, ParsedGuideline) and not g.recommendations for g in items)
    assert (items[0].source_id, items[0].year) == ("TA1033", 2025)
    xml = list(read_guideline_path(shared_data / "guidelines" / "nice_guidelines_openhealthcare_2014.xml"))
    assert xml[0].source_id == "CG114" and xml[0].url.startswith("http://www.nice.org.uk/guidance/cg114")
