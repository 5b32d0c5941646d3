"""Guideline uploads: who may upload, and documents refused before any text is read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from curation.models import AUTHORS_GROUP
from guidelines.models import Guideline
from records.models import EvidenceRecord
from tests.guidelines import documents

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/guidelines/upload/"
METADATA = {"title": "Hypertension in adults", "issuer": "Example Society", "year": "2023"}


@pytest.fixture
def author_client(client: Client) -> Client:
    user = User.objects.create_user("author", password="pw-for-tests-only")
    user.groups.add(Group.objects.get_or_create(name=AUTHORS_GROUP)[0])
    client.force_login(user)
    return client


def test_upload_page_asks_anonymous_visitors_to_sign_in(client: Client) -> None:
    response = client.get(UPLOAD_URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_upload_page_is_forbidden_to_users_who_are_not_guideline_authors(client: Client) -> None:
    client.force_login(User.objects.create_user("reader", password="pw-for-tests-only"))
    assert client.get(UPLOAD_URL).status_code == 403


def test_upload_page_shows_the_form_to_guideline_authors_without_inline_script_or_style(author_client) -> None:
    response = author_client.get(UPLOAD_URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in page and 'name="document"' in page
    assert "<script>" not in page and "style=" not in page and "<style" not in page


def test_document_over_the_size_limit_is_refused_with_the_limit_named(author_client, settings) -> None:
    settings.GUIDELINE_MAX_BYTES = 1000
    document = SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"x" * 2000, content_type="application/pdf")

    response = author_client.post(UPLOAD_URL, {**METADATA, "document": document})

    assert response.status_code == 400
    assert "over the size limit of 1,000 bytes" in response.content.decode()
    assert not Guideline.objects.exists()


def test_file_that_is_not_pdf_html_or_docx_is_refused(author_client) -> None:
    document = SimpleUploadedFile("notes.txt", b"We recommend rest.", content_type="text/plain")
    response = author_client.post(UPLOAD_URL, {**METADATA, "document": document})
    assert response.status_code == 400
    assert "not a PDF, HTML or DOCX file" in response.content.decode()
    assert not Guideline.objects.exists()


def test_refused_upload_says_why_in_chinese(author_client) -> None:
    document = SimpleUploadedFile("notes.txt", b"We recommend rest.", content_type="text/plain")
    response = author_client.post(UPLOAD_URL, {**METADATA, "document": document}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = response.content.decode()
    assert response.status_code == 400
    assert "notes.txt：不是 PDF、HTML 或 DOCX 文件" in html and "上传指南" in html  # noqa: RUF001
    assert not Guideline.objects.exists()
    translation.activate("en")  # the request left Chinese active in this thread


def test_upload_without_title_or_year_is_refused(author_client) -> None:
    document = SimpleUploadedFile("g.html", b"<p>We recommend rest.</p>", content_type="text/html")
    response = author_client.post(UPLOAD_URL, {"issuer": "X", "year": "1700", "document": document})
    page = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in page and "greater than or equal to 1900" in page
    assert not Guideline.objects.exists()


def test_import_command_refuses_a_missing_file() -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_guideline", "missing.pdf", "--title", "T", "--issuer", "I", "--year", "2020")


def test_import_command_refuses_a_file_over_the_size_limit(tmp_path: Path, settings) -> None:
    settings.GUIDELINE_MAX_BYTES = 100
    path = tmp_path / "big.html"
    path.write_bytes(b"<p>" + b"x" * 500 + b"</p>")
    with pytest.raises(CommandError, match=r"big\.html is 507 bytes, over the size limit of 100 bytes"):
        call_command("import_guideline", str(path), "--title", "T", "--issuer", "I", "--year", "2020")
    assert not Guideline.objects.exists()


def test_import_command_refuses_a_year_that_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "g.html"
    path.write_bytes(b"<p>We recommend rest.</p>")
    with pytest.raises(CommandError, match="--year 20 is not a year"):
        call_command("import_guideline", str(path), "--title", "T", "--issuer", "I", "--year", "20")


def test_import_command_version_option_is_the_documents_version() -> None:
    from guidelines.management.commands.import_guideline import Command

    parser = Command().create_parser("manage.py", "import_guideline")
    options = parser.parse_args(["g.pdf", "--title", "T", "--issuer", "I", "--year", "2020", "--version", "2.1"])
    assert options.doc_version == "2.1"


# --- real documents, through the command and the page ---------------------------------------------

MADE = {
    "guideline.pdf": documents.guideline_pdf,
    "guideline.html": documents.guideline_html,
    "guideline.docx": documents.guideline_docx,
}


def _stored_recommendations(guideline: Guideline) -> list[tuple[str, str, str]]:
    records = EvidenceRecord.objects.filter(guideline=guideline, kind="recommendation").order_by("source_id")
    return [
        (record.recommendation["strength"], record.recommendation["certainty"], record.recommendation_text)
        for record in records
    ]


EXPECTED = [
    ("strong", "moderate", documents.RECOMMENDATIONS[0]),
    ("conditional", "low", documents.RECOMMENDATIONS[1]),
]


def _same_recommendations(stored: list[tuple[str, str, str]]) -> None:
    assert [(strength, certainty) for strength, certainty, _ in stored] == [(s, c) for s, c, _ in EXPECTED]
    for (_, _, text), (_, _, written) in zip(stored, EXPECTED, strict=True):
        words = " ".join(written.split()[1:6])  # the label "1." may be dropped; the words stay
        assert words in " ".join(text.split()), (text, written)


@pytest.mark.parametrize("name", sorted(MADE))
def test_import_command_splits_each_kind_of_document_into_its_recommendations(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(MADE[name](f"Hypertension ({name})"))
    out = io.StringIO()
    arguments = [
        "import_guideline",
        str(path),
        "--title",
        f"Hypertension ({name})",
        "--issuer",
        "Example Society",
        "--year",
        "2023",
        "--url",
        "https://example.org/hypertension",
        "--version",
        "1.0",
    ]

    call_command(*arguments, stdout=out)

    guideline = Guideline.objects.get()
    assert out.getvalue().strip() == f"guideline {guideline.pk} new: 2 recommendations"
    assert (guideline.source, guideline.issuer, guideline.year, guideline.version, guideline.url) == (
        "upload",
        "Example Society",
        2023,
        "1.0",
        "https://example.org/hypertension",
    )
    _same_recommendations(_stored_recommendations(guideline))
    assert not EvidenceRecord.objects.filter(abstract__contains="never run").exists()

    again = io.StringIO()
    call_command(*arguments, stdout=again)
    assert again.getvalue().strip() == f"guideline {guideline.pk} unchanged: 2 recommendations"
    assert Guideline.objects.count() == 1


@pytest.mark.parametrize("name", sorted(MADE))
def test_upload_page_stores_each_kind_of_document(author_client, name: str) -> None:
    content_types = {".pdf": "application/pdf", ".html": "text/html", ".docx": "application/octet-stream"}
    document = SimpleUploadedFile(
        name, MADE[name]("Hypertension in adults"), content_type=content_types[Path(name).suffix]
    )

    response = author_client.post(UPLOAD_URL, {**METADATA, "document": document}, follow=True)

    assert response.status_code == 200
    assert "“Hypertension in adults”: stored as a new guideline, 2 recommendation(s)." in response.content.decode()
    guideline = Guideline.objects.get()
    assert (guideline.title, guideline.issuer, guideline.year) == ("Hypertension in adults", "Example Society", 2023)
    _same_recommendations(_stored_recommendations(guideline))


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("scan.pdf", lambda: documents.scanned_pdf(), "no text layer, OCR is not supported"),
        ("locked.pdf", lambda: documents.encrypted_pdf("Locked"), "encrypted"),
        ("bomb.docx", lambda: documents.zip_bomb_docx(), "zip bomb"),
    ],
)
def test_unreadable_documents_are_refused_with_the_reason(author_client, tmp_path: Path, name, make, message) -> None:
    data = make()
    response = author_client.post(UPLOAD_URL, {**METADATA, "document": SimpleUploadedFile(name, data)})

    assert response.status_code == 400
    assert message in response.content.decode()
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CommandError, match=message):
        call_command("import_guideline", str(path), "--title", "T", "--issuer", "I", "--year", "2020")
    assert not Guideline.objects.exists()


def test_guideline_authors_find_the_upload_page_in_the_navigation(author_client, client: Client) -> None:
    assert 'href="/guidelines/upload/">Upload a guideline</a>' in author_client.get("/collections/").content.decode()
    reader = Client()
    reader.force_login(User.objects.create_user("reader", password="pw-for-tests-only"))
    assert "Upload a guideline" not in reader.get("/collections/").content.decode()
