"""Guideline uploads: who may upload, and documents refused before any text is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from curation.models import AUTHORS_GROUP
from guidelines.models import Guideline

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
