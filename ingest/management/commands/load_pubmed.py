"""``manage.py load_pubmed PATH... [--batch-size N] [--no-hand-off]``: load PubMed XML/MEDLINE files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingest.services import load_pubmed_paths


class Command(BaseCommand):
    help = (
        "Load PubMed files (XML or MEDLINE text, plain or .gz; files or folders) into evidence records. "
        "Idempotent: loading the same files again changes nothing. Changed records are handed on to "
        "grading and indexing unless --no-hand-off."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="PubMed files or folders of them")
        parser.add_argument("--batch-size", type=int, default=500, help="records per transaction (default 500)")
        parser.add_argument(
            "--no-hand-off", action="store_true", help="store only; do not grade, index or embed changed records"
        )
        parser.add_argument("--show-problems", type=int, default=20, help="list this many skip reasons (default 20)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        on_changed = None
        if not options["no_hand_off"]:
            from ingest.pipeline import records_changed

            def on_changed(ids: list[int]) -> None:
                records_changed(ids)

        started = time.monotonic()
        counts = load_pubmed_paths(paths=options["paths"], batch_size=options["batch_size"], on_changed=on_changed)
        seconds = time.monotonic() - started
        self.stdout.write(
            f"{counts.files} file(s): read {counts.read}, new {counts.new}, updated {counts.updated}, "
            f"unchanged {counts.unchanged}, superseded {counts.superseded}, deleted {counts.deleted}, "
            f"skipped {counts.skipped} ({seconds:.1f} s)"
        )
        if counts.read and counts.new == 0 and counts.updated == 0 and counts.deleted == 0:
            self.stdout.write("Nothing changed: every record was already stored as read.")
        shown = options["show_problems"]
        for problem in counts.problems[:shown]:
            self.stdout.write(f"  skipped {problem.location}: {problem.reason}")
        if len(counts.problems) > shown:
            self.stdout.write(f"  ... and {len(counts.problems) - shown} more")
        if counts.read == 0 and counts.deletions_read == 0:
            raise CommandError("nothing could be read from the paths given")
