"""Design classifier model choice: which features, over every rung, and how far can text go?

Builds the classifier's full feature matrix for the PubMed files' MEDLINE-indexed records with a
design (vocabularies fitted on train + dev, as ``train_design_classifier`` does), then for each
feature set (a subset of its columns) cross-fits every rung the way training does
(``records.evidence.training.cross_fit``), fits the temperature and the threshold on the
out-of-fold scores, and reports:

- out-of-fold on train + dev (what a choice may be made on): accuracy at full coverage, and
  coverage / accuracy at the threshold chosen;
- on the test split: the same, expected calibration error, macro-F1, RCT and systematic-review
  precision / recall at the threshold, and their *ceiling*: the best recall any threshold on the
  test records' own probabilities reaches at the target precision (RCT 0.90, systematic review
  0.75), a threshold nobody could choose in advance.

Feature sets: ``tfidf`` (title + abstract TF-IDF alone: the plain baseline), ``earlier`` (TF-IDF,
title TF-IDF and the 30 RCT / systematic-review cues of the two-rung model), ``earlier+side``
(plus journal and abstract structure), ``default`` (every cue, journal and structure: the model).

    .venv/bin/python bench/design_features.py [--pubmed PATH] [--sets tfidf,earlier,...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import SHARED_DATA, setup_django

setup_django()

import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

from records.evidence.classifier import CLASSES, CUE_NAMES, softmax  # noqa: E402
from records.evidence.training import (  # noqa: E402
    MIN_CLASS_EXAMPLES,
    TARGET_ACCURACY,
    choose_coverage_threshold,
    choose_temperature,
    coverage_accuracy,
    cross_fit,
    examples_from_files,
    expected_calibration_error,
    fit_vectorisers,
    fold_of,
    inputs_of,
    labelled_splits,
    rung_scores,
)

GOAL_PRECISION = {"rct": 0.90, "systematic_review": 0.75}
# The cues of the earlier two-rung model (RCT / systematic review), by name.
EARLIER_CUES = [
    "randomised",
    "rct_phrase",
    "were_randomised",
    "placebo",
    "blinded",
    "registration",
    "allocated",
    "trial_conduct",
    "outcomes",
    "enrolled",
    "systematic_review",
    "meta_analysis",
    "databases",
    "searched",
    "prisma",
    "pooled",
    "pooled_measure",
    "included_studies",
    "n_included",
    "protocol",
    "secondary",
    "observational",
    "animals",
    "narrative_review",
    "t:randomised",
    "t:trial",
    "t:systematic_review",
    "t:meta_analysis",
    "t:review",
    "t:protocol",
    "no_abstract",
]
SETS = ("tfidf", "earlier", "earlier+side", "default")


def recall_at_precision(truth: np.ndarray, scores: np.ndarray, min_precision: float) -> float:
    """Return the best recall any threshold on ``scores`` reaches with precision >= min_precision."""
    if not truth.any():
        return 0.0
    precision, recall, _ = precision_recall_curve(truth, scores)
    reaching = precision >= min_precision
    return float(recall[reaching].max()) if reaching.any() else 0.0


def columns(model: Any, name: str) -> np.ndarray:
    """Return the column indices of a feature set in the full feature matrix."""
    text = len(model.text_tfidf.vocabulary)
    title = len(model.title_tfidf.vocabulary)
    cues = len(CUE_NAMES)
    side = len(model.side_vocabulary)
    text_cols = np.arange(text)
    title_cols = np.arange(text, text + title)
    cue_cols = np.arange(text + title, text + title + cues)
    earlier = cue_cols[[CUE_NAMES.index(c) for c in EARLIER_CUES]]
    side_cols = np.arange(text + title + cues, text + title + cues + side)
    return {
        "tfidf": text_cols,
        "earlier": np.concatenate([text_cols, title_cols, earlier]),
        "earlier+side": np.concatenate([text_cols, title_cols, earlier, side_cols]),
        "default": np.arange(text + title + cues + side),
    }[name]


def figures(matrix: Any, labels: np.ndarray, folds: np.ndarray, test: np.ndarray) -> dict[str, Any]:
    """Cross-fit every rung on the non-test rows; return out-of-fold and test figures."""
    fitted = ~test
    classes = [c.value for c in CLASSES if int(np.sum(labels[fitted] == c.value)) >= MIN_CLASS_EXAMPLES]
    weights, intercepts, oof = [], [], []
    for name in classes:
        weight, intercept, scores = cross_fit(matrix[fitted], labels[fitted] == name, folds[fitted])
        weights.append(weight)
        intercepts.append(intercept)
        oof.append(scores)
    out_of_fold = np.column_stack(oof)
    truth_fit = np.array([classes.index(x) if x in classes else -1 for x in labels[fitted]])
    temperature = choose_temperature(out_of_fold, truth_fit)
    oof_probabilities = softmax(out_of_fold, temperature)
    threshold = choose_coverage_threshold(oof_probabilities, truth_fit, min_accuracy=TARGET_ACCURACY)
    test_scores = np.asarray(matrix[test] @ np.vstack(weights).T) + np.array(intercepts)
    probabilities = softmax(test_scores, temperature)
    truth_test = np.array([classes.index(x) if x in classes else -1 for x in labels[test]])
    best = [classes[i] for i in probabilities.argmax(axis=1)]
    covered = probabilities.max(axis=1) >= threshold
    predicted = [b if c else "unknown" for b, c in zip(best, covered, strict=True)]
    rungs = rung_scores(list(labels[test]), predicted)
    result: dict[str, Any] = {
        "temperature": temperature,
        "out_of_fold": coverage_accuracy(oof_probabilities, truth_fit, threshold),
        "test": coverage_accuracy(probabilities, truth_test, threshold),
        "test_ece": round(expected_calibration_error(probabilities, truth_test), 4),
        "test_macro_f1": rungs["macro_f1"],
    }
    for name, goal in GOAL_PRECISION.items():
        scores = rungs["classes"][name]
        column = probabilities[:, classes.index(name)]
        result[name] = {
            "precision": scores["precision"],
            "recall": scores["recall"],
            "ceiling_recall": round(recall_at_precision(labels[test] == name, column, goal), 3),
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pubmed", type=Path, default=SHARED_DATA / "pubmed")
    parser.add_argument("--sets", default=",".join(SETS), help=f"feature sets among {', '.join(SETS)}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.pubmed.exists():
        print(f"no PubMed files at {args.pubmed}: pass --pubmed PATH", file=sys.stderr)
        return 2
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SETS]
    if unknown:
        print(f"unknown feature sets {unknown}: choose among {', '.join(SETS)}", file=sys.stderr)
        return 2
    splits = labelled_splits(examples_from_files([args.pubmed]))
    rows = splits["train"] + splits["dev"] + splits["test"]
    test = np.arange(len(rows)) >= len(rows) - len(splits["test"])
    model = fit_vectorisers(splits["train"] + splits["dev"])
    full = model.features(inputs_of(rows)).tocsc()
    labels = np.array([e.label for e in rows])
    folds = np.array([fold_of(e.pmid) for e in rows])
    results = []
    for name in chosen:
        matrix = full[:, columns(model, name)].tocsr()
        results.append({"features": name, **figures(matrix, labels, folds, test)})
        if not args.json:
            print(_line(results[-1]), flush=True)
    if args.json:
        print(json.dumps({"records": len(rows), "test_records": int(test.sum()), "results": results}, indent=2))
    return 0


def _line(row: dict[str, Any]) -> str:
    oof, test = row["out_of_fold"], row["test"]
    return (
        f"{row['features']:14s} out-of-fold: full acc {oof['accuracy_all']:.3f}, coverage {oof['coverage']:.3f} "
        f"acc {oof['accuracy_covered']:.3f} at {oof['threshold']:.2f} | test: full acc {test['accuracy_all']:.3f}, "
        f"coverage {test['coverage']:.3f} acc {test['accuracy_covered']:.3f}, ECE {row['test_ece']:.3f}, "
        f"macro-F1 {row['test_macro_f1']:.3f}, RCT P {row['rct']['precision']:.3f} R {row['rct']['recall']:.3f} "
        f"(ceiling R@P0.90 {row['rct']['ceiling_recall']:.3f}), SR P {row['systematic_review']['precision']:.3f} "
        f"R {row['systematic_review']['recall']:.3f} (ceiling R@P0.75 {row['systematic_review']['ceiling_recall']:.3f})"
    )


if __name__ == "__main__":
    sys.exit(main())
