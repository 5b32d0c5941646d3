"""``manage.py import_guideline FILE --title "..." --issuer "..." --year YYYY [--url URL] [--version V]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guidelines.uploads import guideline_upload, size_limit_message, upload_max_bytes
from ingest.guidelines.types import GuidelineParseError


class Command(BaseCommand):
    help = "Import one guideline document (PDF, HTML or DOCX) with its metadata, split into recommendations."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version names the document's version here, so it replaces Django's own --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the document: .pdf, .html or .docx")
        parser.add_argument("--title", required=True)
        parser.add_argument("--issuer", required=True, help="issuing body")
        parser.add_argument("--year", required=True, type=int)
        parser.add_argument("--url", default="", help="where the document is published")
        parser.add_argument("--version", dest="doc_version", default="", help="the document's version label")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if not 1900 <= options["year"] <= 2100:
            raise CommandError(f"--year {options['year']} is not a year between 1900 and 2100")
        limit = upload_max_bytes()
        size = path.stat().st_size
        if size > limit:
            raise CommandError(size_limit_message(name=path.name, size=size, limit=limit))
        try:
            result = guideline_upload(
                data=path.read_bytes(),
                filename=path.name,
                title=options["title"],
                issuer=options["issuer"],
                year=options["year"],
                url=options["url"],
                version=options["doc_version"],
            )
        except GuidelineParseError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"guideline {result.guideline_id} {result.outcome}: {result.recommendations} recommendations")
