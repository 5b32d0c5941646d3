"""Print the predicted study design of every record in a PubMed file.

    python manage.py predict_evidence [--text-only] FILE... [--json] [--threshold P]

With ``--text-only`` the file's publication types and MeSH headings are ignored: the level comes
from the title and abstract alone. Without it, PubMed's indexing is used where it exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from records.evidence.predict import NoModelError, predict_file
from records.evidence.services import prediction_threshold


class Command(BaseCommand):
    help = "Predict the evidence level of each record of a PubMed XML or MEDLINE file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, nargs="+", help="PubMed XML or MEDLINE text files (.gz allowed)")
        parser.add_argument("--text-only", action="store_true", help="ignore publication types and MeSH")
        parser.add_argument("--json", action="store_true", help="print a JSON list")
        parser.add_argument("--models", type=Path, help="models folder (default: EVIDENCE_DATA_DIR/models/design)")
        parser.add_argument(
            "--threshold",
            type=float,
            default=None,
            help="lowest probability of a design to predict it "
            "(default: EVIDENCE_PREDICTION_THRESHOLD, else the model's own)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["file"]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path} is not a file")
        rows: list[dict[str, Any]] = []
        threshold = options["threshold"] if options["threshold"] is not None else prediction_threshold()
        try:
            for path in paths:
                found, problems = predict_file(
                    path, text_only=options["text_only"], models_dir=options["models"], threshold=threshold
                )
                rows += found
                for problem in problems:
                    self.stderr.write(f"skipped {problem}")
        except NoModelError as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            probability = "" if row["probability"] is None else f"{row['probability']:.3f}"
            self.stdout.write(f"{row['pmid']}\t{row['level']}\t{probability}\t{row['source']}")
