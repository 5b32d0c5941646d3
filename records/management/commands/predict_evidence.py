"""Print the predicted study design of every record in a PubMed file.

    python manage.py predict_evidence --text-only FILE.xml [--json]

With ``--text-only`` the file's publication types and MeSH headings are ignored: the level comes
from the title and abstract alone. Without it, PubMed's indexing is used where it exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from records.evidence.predict import NoModelError, predict_file


class Command(BaseCommand):
    help = "Predict the evidence level of each record of a PubMed XML or MEDLINE file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="a PubMed XML or MEDLINE text file (.gz allowed)")
        parser.add_argument("--text-only", action="store_true", help="ignore publication types and MeSH")
        parser.add_argument("--json", action="store_true", help="print a JSON list")
        parser.add_argument("--models", type=Path, help="models folder (default: EVIDENCE_DATA_DIR/models/design)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        try:
            rows, problems = predict_file(path, text_only=options["text_only"], models_dir=options["models"])
        except NoModelError as error:
            raise CommandError(str(error)) from None
        for problem in problems:
            self.stderr.write(f"skipped {problem}")
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            probability = "" if row["probability"] is None else f"{row['probability']:.3f}"
            self.stdout.write(f"{row['pmid']}\t{row['level']}\t{probability}\t{row['source']}")
