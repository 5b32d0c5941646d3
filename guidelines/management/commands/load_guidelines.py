"""``manage.py load_guidelines PATH... [--no-hand-off]``: read guideline files into the portal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guidelines.loading import load_guideline_paths


class Command(BaseCommand):
    help = (
        "Load guideline files or folders (USPSTF JSON, NGC XML summaries, FHIR JSON, OAI-PMH XML, RSS/Atom, "
        "NICE lists, PDF/HTML/DOCX; plain or .gz; format detected per file). Idempotent: loading the same "
        "files again changes nothing. Changed recommendations are graded and indexed unless --no-hand-off."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="guideline files or folders of them")
        parser.add_argument("--no-hand-off", action="store_true", help="store only; do not grade, index or embed")
        parser.add_argument("--show-problems", type=int, default=20, help="list this many unreadable files")

    def handle(self, *args: Any, **options: Any) -> None:
        missing = [str(path) for path in options["paths"] if not path.exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}")
        on_changed = None
        if not options["no_hand_off"]:
            from ingest.pipeline import records_changed

            def on_changed(ids: list[int]) -> None:
                records_changed(ids)

        started = time.monotonic()
        counts = load_guideline_paths(paths=options["paths"], on_changed=on_changed)
        seconds = time.monotonic() - started
        self.stdout.write(
            f"{counts.files} file(s): {counts.read} guideline(s) read with {counts.recommendations} recommendation(s); "
            f"new {counts.new}, updated {counts.updated}, unchanged {counts.unchanged}, "
            f"new versions {counts.new_versions}, older versions {counts.older_versions}, deleted {counts.deleted}, "
            f"problems {len(counts.problems)} ({seconds:.1f} s)"
        )
        if counts.read and not (counts.new or counts.updated or counts.new_versions or counts.deleted):
            self.stdout.write("Nothing changed: every guideline was already stored as read.")
        shown = options["show_problems"]
        for problem in counts.problems[:shown]:
            self.stdout.write(f"  problem in {problem.location}: {problem.reason}")
        if len(counts.problems) > shown:
            self.stdout.write(f"  ... and {len(counts.problems) - shown} more")
        if counts.read == 0:
            raise CommandError("no guideline could be read from the paths given")
