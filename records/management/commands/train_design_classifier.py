"""Train the study-design classifier and make it the current model.

python manage.py train_design_classifier [--from-db | --pubmed PATH...] [--output DIR] [--json]
python manage.py train_design_classifier --report [--json]   # predictions vs later indexing, by design
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from records.evidence.artifacts import current_version
from records.evidence.services import design_classifier_train, design_prediction_report


class Command(BaseCommand):
    help = "Train the study-design classifier (title, abstract, journal -> every design) deterministically."

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
            "--report",
            action="store_true",
            help="train nothing: print how often predictions were confirmed by later indexing, by design",
        )
        parser.add_argument(
            "--if-missing", action="store_true", help="do nothing when a current model exists (for make run)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["pubmed"] or []
        if options["report"]:
            report = design_prediction_report()
            self.stdout.write(json.dumps(report, indent=2) if options["json"] else format_report(report))
            return
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
    """Return the test-split figures (coverage, accuracy, calibration, each design) as plain text."""
    test = metrics["test"]
    held = metrics.get("held_back", {})
    lines = [
        f"counts per split: {metrics['counts']}",
        f"threshold {metrics['threshold']:.2f} (chosen on held-back out-of-fold records: coverage "
        f"{held.get('coverage', 0):.3f}, accuracy {held.get('accuracy_covered', 0):.3f}), temperature "
        f"{metrics['temperature']:.3f}",
        "",
        f"test split, {test['records']} MEDLINE-indexed records never trained on:",
        f"  coverage {test['coverage']:.3f}, accuracy on covered {test['accuracy_covered']:.3f}, "
        f"accuracy at full coverage {test['accuracy_all']:.3f}",
        f"  macro-F1 {test['macro_f1']:.3f} (full coverage {test['full_coverage']['macro_f1']:.3f}), "
        f"expected calibration error {test['expected_calibration_error']:.4f}",
        "",
        f"{'design':<22}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}   {'P full':>7}{'R full':>7}",
    ]
    for name, scores in test["classes"].items():
        full = test["full_coverage"]["classes"][name]
        lines.append(
            f"{name:<22}{scores['precision']:>7.3f}{scores['recall']:>7.3f}{scores['f1']:>7.3f}{scores['support']:>6}"
            f"   {full['precision']:>7.3f}{full['recall']:>7.3f}"
        )
    for name, base in metrics["test_keyword_baseline"]["classes"].items():
        auc = test["classes"][name].get("roc_auc")
        lines.append(
            f"  {name}: ROC AUC {auc if auc is None else format(auc, '.3f')}; keyword rule P {base['precision']:.3f} "
            f"R {base['recall']:.3f}"
        )
    lines += ["", "coverage / accuracy at other thresholds:"]
    for row in test["at_thresholds"]:
        lines.append(
            f"  {row['threshold']:.2f}: coverage {row['coverage']:.3f}, accuracy {row['accuracy_covered']:.3f}"
        )
    lines += ["", "reliability (top probability):"]
    for row in test["reliability"]:
        lines.append(
            f"  {row['bin']}: {row['records']:>5} records, confidence {row['confidence']:.3f}, "
            f"accuracy {row['accuracy']:.3f}"
        )
    if "cross_source" in metrics:
        cross = metrics["cross_source"]
        lines.append("")
        lines.append(
            f"across source files ({cross['folds']} folds by file): coverage {cross['coverage']:.3f}, "
            f"accuracy {cross['accuracy_covered']:.3f}, macro-F1 {cross['macro_f1']:.3f}"
        )
        for name, scores in cross["classes"].items():
            if scores["support"]:
                lines.append(f"  {name:<22} P {scores['precision']:.3f}  R {scores['recall']:.3f}")
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    """Return the live accuracy (predictions later confirmed by PubMed's indexing) as plain text."""
    overall = report["overall"]
    if not overall["checked"] and not report["abstained"]["checked"]:
        return "no predicted record has been indexed by PubMed yet: nothing to compare"
    lines = [f"{'predicted design':<22}{'checked':>9}{'confirmed':>11}{'accuracy':>10}"]
    for name, row in report["rungs"].items():
        lines.append(f"{name:<22}{row['checked']:>9}{row['confirmed']:>11}{row['accuracy']:>10.3f}")
    accuracy = "-" if overall["accuracy"] is None else f"{overall['accuracy']:.3f}"
    lines.append(f"{'all predicted':<22}{overall['checked']:>9}{overall['confirmed']:>11}{accuracy:>10}")
    abstained = report["abstained"]
    if abstained["checked"]:
        lines.append(
            f"unknown (abstained): {abstained['checked']} later indexed; the most likely design was right for "
            f"{abstained['best_confirmed']} ({abstained['best_accuracy']:.3f})"
        )
    return "\n".join(lines)
