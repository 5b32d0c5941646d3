"""Design classifier features: does adding the sentence embeddings help, and how far can text go?

Fits the classifier's vectorisers on the train + dev splits of the PubMed files' indexed records
(as ``train_design_classifier`` does), then for each feature set cross-fits each class the same
way (``records.evidence.training.cross_fit``) and reports, per class:

- the out-of-fold ROC AUC, and the recall at the targets' precision (RCT 0.90, systematic
  review 0.75), on train + dev (what tuning sees);
- on the test split: ROC AUC, precision and recall at the threshold chosen on the out-of-fold
  probabilities (the product's rule), and the *ceiling*: the best recall any threshold reaches
  at that precision on the test split itself (a threshold nobody could choose in advance).

Feature sets: the current features (TF-IDF, title TF-IDF, design cues), the sentence embeddings
of title + abstract alone (the model in ``EMBEDDING_MODEL``, the vectors the index computes),
and the current features with the embeddings appended at each ``--scales`` weight. The first run
embeds every record (about 10 minutes for the shared records on 2 cores); later runs read the
embedding disk cache.

    .venv/bin/python bench/design_features.py [--pubmed PATH] [--scales 0.5,1,2] [--json]
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
from scipy import sparse  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_auc_score  # noqa: E402

from records.evidence.classifier import CLASSES, sigmoid  # noqa: E402
from records.evidence.training import (  # noqa: E402
    TARGET_PRECISION,
    choose_threshold,
    classification_scores,
    cross_fit,
    examples_from_files,
    fit_vectorisers,
    fold_of,
    labelled_splits,
)
from search.embeddings import document_text, embed_texts  # noqa: E402

# The precision the targets ask for; recall is reported at it. The product's thresholds are
# chosen for TARGET_PRECISION instead (0.80 for systematic reviews: a margin over 0.75).
GOAL_PRECISION = {"rct": 0.90, "systematic_review": 0.75}


def recall_at_precision(truth: np.ndarray, scores: np.ndarray, min_precision: float) -> float:
    """Return the best recall any threshold on ``scores`` reaches with precision >= min_precision."""
    precision, recall, _ = precision_recall_curve(truth, scores)
    reaching = precision >= min_precision
    return float(recall[reaching].max()) if reaching.any() else 0.0


def class_figures(matrix: Any, truth: np.ndarray, folds: np.ndarray, test: np.ndarray, level: str) -> dict:
    """Cross-fit one class on the non-test rows of ``matrix``; score the out-of-fold and test rows."""
    fitted = ~test
    weight, intercept, out_of_fold = cross_fit(matrix[fitted], truth[fitted], folds[fitted])
    test_scores = sigmoid(matrix[test] @ weight + intercept)
    test_truth = truth[test]
    goal = GOAL_PRECISION[level]
    threshold = choose_threshold(sigmoid(out_of_fold), truth[fitted], min_precision=TARGET_PRECISION[level])
    at_threshold = classification_scores(test_truth, test_scores >= threshold)
    return {
        "oof_auc": round(float(roc_auc_score(truth[fitted], out_of_fold)), 4),
        "oof_recall_at_goal": round(recall_at_precision(truth[fitted], out_of_fold, goal), 3),
        "test_auc": round(float(roc_auc_score(test_truth, test_scores)), 4),
        "threshold": threshold,
        "test_precision": at_threshold["precision"],
        "test_recall": at_threshold["recall"],
        "test_recall_ceiling": round(recall_at_precision(test_truth, test_scores, goal), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pubmed", type=Path, default=SHARED_DATA / "pubmed")
    parser.add_argument("--scales", default="0.5,1,2", help="weights of the appended embeddings")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.pubmed.exists():
        print(f"no PubMed files at {args.pubmed}: pass --pubmed PATH", file=sys.stderr)
        return 2
    splits = labelled_splits(examples_from_files([args.pubmed]))
    rows = splits["train"] + splits["dev"] + splits["test"]
    test = np.arange(len(rows)) >= len(rows) - len(splits["test"])
    current = fit_vectorisers(splits["train"] + splits["dev"]).features(
        [e.title for e in rows], [e.abstract for e in rows]
    )
    vectors = sparse.csr_matrix(embed_texts([document_text(e.title, e.abstract) for e in rows]).astype(np.float64))
    feature_sets = {"current": current, "embeddings": vectors}
    for scale in (float(s) for s in args.scales.split(",") if s.strip()):
        feature_sets[f"current + embeddings x{scale:g}"] = sparse.hstack([current, vectors * scale]).tocsr()
    labels = np.array([e.label for e in rows])
    folds = np.array([fold_of(e.pmid) for e in rows])
    results = []
    for name, matrix in feature_sets.items():
        for level in CLASSES:
            figures = class_figures(matrix, labels == level.value, folds, test, level.value)
            results.append(
                {"features": name, "class": level.value, "goal_precision": GOAL_PRECISION[level.value], **figures}
            )
            if not args.json:
                print(_line(results[-1]), flush=True)
    if args.json:
        print(json.dumps({"records": len(rows), "test_records": int(test.sum()), "results": results}, indent=2))
    return 0


def _line(row: dict) -> str:
    return (
        f"{row['features']:30s} {row['class']:18s} out-of-fold AUC {row['oof_auc']:.4f}, "
        f"R@P{row['goal_precision']:.2f} {row['oof_recall_at_goal']:.3f} | test AUC {row['test_auc']:.4f}, "
        f"P {row['test_precision']:.3f} R {row['test_recall']:.3f} at {row['threshold']:.2f}, "
        f"ceiling R@P{row['goal_precision']:.2f} {row['test_recall_ceiling']:.3f}"
    )


if __name__ == "__main__":
    sys.exit(main())
