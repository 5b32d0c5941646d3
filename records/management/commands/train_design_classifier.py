"""Train the study-design classifier and make it the current model.

python manage.py train_design_classifier [--from-db | --pubmed PATH...] [--output DIR] [--json]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from records.evidence.artifacts import current_version
from records.evidence.services import design_classifier_train


class Command(BaseCommand):
    help = "Train the study-design classifier (title + abstract -> RCT / systematic review) deterministically."

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--from-db", action="store_true", help="train from the records in the database (default)")
        source.add_argument(
            "--pubmed", nargs="+", type=Path, metavar="PATH", help="PubMed XML/MEDLINE files or folders"
        )
        parser.add_argument("--output", type=Path, help="models folder (default: EVIDENCE_DATA_DIR/models/design)")
        parser.add_argument("--check-sources", action="store_true", help="also train/test across source files")
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="hand the training (from the database) to the worker: records.retrain_design_classifier",
        )
        parser.add_argument(
            "--if-missing", action="store_true", help="do nothing when a current model exists (for make run)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["pubmed"] or []
        if options["if_missing"] and current_version(options["output"]):
            self.stdout.write(f"design classifier {current_version(options['output'])} exists: not retrained")
            return
        if options["enqueue"]:
            if paths or options["output"]:
                raise CommandError("--enqueue trains from the database into the default models folder")
            from records.tasks import retrain_design_classifier

            retrain_design_classifier.delay()
            self.stdout.write("enqueued records.retrain_design_classifier")
            return
        for path in paths:
            if not path.exists():
                raise CommandError(f"{path} does not exist")
        try:
            trained = design_classifier_train(
                pubmed_paths=paths, models_dir=options["output"], check_sources=options["check_sources"]
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        metrics = trained.result.metrics
        if options["json"]:
            self.stdout.write(json.dumps(metrics, indent=2, sort_keys=True))
            return
        self.stdout.write(f"model {trained.result.version} written to {trained.folder}")
        self.stdout.write(format_metrics(metrics))


def format_metrics(metrics: dict[str, Any]) -> str:
    """Return the test-split figures beside the keyword baseline as a plain table."""
    lines = [f"counts per split: {metrics['counts']}", f"thresholds: {metrics['thresholds']}", ""]
    lines.append(f"{'class':<20}{'model P':>9}{'R':>7}{'F1':>7}{'AUC':>7}   {'keyword P':>9}{'R':>7}{'F1':>7}  n")
    for name, scores in metrics["test"]["classes"].items():
        base = metrics["test_keyword_baseline"]["classes"][name]
        auc = scores["roc_auc"]
        lines.append(
            f"{name:<20}{scores['precision']:>9.3f}{scores['recall']:>7.3f}{scores['f1']:>7.3f}"
            f"{auc if auc is None else format(auc, '.3f'):>7}   {base['precision']:>9.3f}{base['recall']:>7.3f}"
            f"{base['f1']:>7.3f}  {scores['support']}"
        )
    lines.append("")
    lines.append("confusion (rows: PubMed's label, columns: predicted)")
    table = metrics["test"]["confusion"]
    names = list(table)
    lines.append(f"{'':<20}" + "".join(f"{n:>20}" for n in names))
    for truth in names:
        lines.append(f"{truth:<20}" + "".join(f"{table[truth][p]:>20}" for p in names))
    if "cross_source" in metrics:
        lines.append("")
        lines.append(f"across source files ({metrics['cross_source']['folds']} folds by file):")
        for name, scores in metrics["cross_source"]["classes"].items():
            lines.append(f"  {name:<18} P {scores['precision']:.3f}  R {scores['recall']:.3f}  F1 {scores['f1']:.3f}")
    return "\n".join(lines)
