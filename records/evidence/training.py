"""Training and evaluating the study-design classifier (deterministic: fixed seeds, sorted data).

Labels come from PubMed's own indexing through the rules (``grade_by_rules``): every rung of the
scale; records the rules call unknown (and notices) are not examples. Only MEDLINE-indexed
records train and test the model, since records PubMed has not indexed carry few publication
types (they would be "unknown" whatever their design). Records are split by a hash of the PMID
into train (70%), dev (10%) and test (20%: the reported figures), so no test record is ever
trained on. Train and dev together fit the model by cross-fitting: five fold models per rung
(folds by another PMID hash), their average is the model; the temperature that calibrates the
probabilities and the abstention threshold are chosen on the out-of-fold scores, so on records
the scoring model did not see.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from records.evidence.classifier import (
    CLASSES,
    CUE_NAMES,
    SEED,
    DesignClassifier,
    DesignInput,
    artifact_version,
    fit_side_vocabulary,
    fit_tfidf,
    model_text,
    softmax,
)
from records.evidence.levels import EvidenceLevel
from records.evidence.rules import grade_by_rules

INDEXED_STATUSES = frozenset({"MEDLINE", "OLDMEDLINE"})
NOTICE_TYPES = frozenset({"retraction of publication", "published erratum", "expression of concern"})
# The abstention threshold is the lowest whose out-of-fold accuracy on the records it covers
# reaches this (a margin over the 0.85 target).
TARGET_ACCURACY = 0.87
# Inverse regularisation strength of the logistic regressions, and the weights of the cue
# counts and of the journal / structure tokens.
REGULARISATION_C = 10.0
CUE_SCALE = 0.5
SIDE_SCALE = 0.5
FOLDS = 5
# A rung needs this many examples in train + dev to be learnt (fewer: it is left out, probability 0).
MIN_CLASS_EXAMPLES = 10
KEYWORD_BASELINE = {
    EvidenceLevel.SYSTEMATIC_REVIEW.value: re.compile(r"systematic review|meta-analy"),
    EvidenceLevel.RCT.value: re.compile(r"randomi[sz]ed"),
}
# Coverage and accuracy are also reported at these thresholds (the trade-off the setting picks on).
REPORTED_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Example:
    """One labelled text: what the model sees (title, abstract, journal, sections) and what PubMed says of it."""

    pmid: str
    title: str
    abstract: str
    publication_types: tuple[str, ...]
    mesh_descriptors: tuple[str, ...]
    publication_status: str = ""
    group: str = ""  # the source file (or "db"), for the cross-source check
    journal: str = ""
    section_labels: tuple[str, ...] = ()

    @property
    def input(self) -> DesignInput:
        return DesignInput(
            title=self.title, abstract=self.abstract, journal=self.journal, section_labels=self.section_labels
        )

    @property
    def label(self) -> str | None:
        """Return the rung the rules give PubMed's indexing, or None for notices and rule-unknown records."""
        if {t.lower() for t in self.publication_types} & NOTICE_TYPES:
            return None
        level = grade_by_rules(publication_types=self.publication_types, mesh_descriptors=self.mesh_descriptors).level
        return None if level == EvidenceLevel.UNKNOWN else level.value

    @property
    def indexed(self) -> bool:
        """True for MEDLINE-indexed records (status MEDLINE/OLDMEDLINE, or no status but MeSH)."""
        if self.publication_status:
            return self.publication_status in INDEXED_STATUSES
        return bool(self.mesh_descriptors)


def inputs_of(rows: Sequence[Example]) -> list[DesignInput]:
    return [e.input for e in rows]


def fold_of(pmid: str) -> int:
    """Return the cross-fitting fold (0 to FOLDS - 1) of a PMID: a hash independent of the split."""
    return int(hashlib.sha256(f"fold:{pmid}".encode()).hexdigest()[:8], 16) % FOLDS


def split_of(pmid: str) -> str:
    """Return "train", "dev" or "test" for a PMID (a stable hash: the same PMID, the same split)."""
    bucket = int(hashlib.sha256(pmid.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if bucket < 7 else "dev" if bucket == 7 else "test"


def examples_from_files(paths: Sequence[Path]) -> Iterator[Example]:
    """Yield one Example per distinct PMID with a title or abstract, from PubMed files or folders."""
    from ingest.pubmed import ParsedRecord, iter_input_paths, iter_pubmed_file

    seen: set[str] = set()
    for path in iter_input_paths(paths):
        for item in iter_pubmed_file(path):
            if not isinstance(item, ParsedRecord) or item.source != "pubmed" or item.source_id in seen:
                continue
            seen.add(item.source_id)
            if item.kind != "article" or not (item.title.strip() or item.abstract.strip()):
                continue
            yield Example(
                pmid=item.source_id,
                title=item.title,
                abstract=item.abstract,
                publication_types=tuple(item.publication_types),
                mesh_descriptors=tuple(h.descriptor for h in item.mesh_headings),
                publication_status=item.publication_status,
                group=path.name,
                journal=item.journal,
                section_labels=tuple(s.label for s in item.abstract_sections if s.label),
            )


def section_labels(sections: Any) -> tuple[str, ...]:
    """Return the labels of a stored structured abstract ([{"label": ...}, ...])."""
    return tuple(str(s.get("label") or "") for s in sections or () if isinstance(s, dict) and s.get("label"))


def examples_from_db() -> Iterator[Example]:
    """Yield one Example per live PubMed article in the database (PubMed's indexing is the label)."""
    from records.models import EvidenceRecord, RecordKind

    rows = (
        EvidenceRecord.objects.filter(source="pubmed", kind=RecordKind.ARTICLE, deleted_at__isnull=True)
        .order_by("pmid", "id")
        .values_list(
            "pmid",
            "title",
            "abstract",
            "publication_types",
            "mesh_headings",
            "publication_status",
            "journal",
            "abstract_sections",
        )
        .iterator(chunk_size=2000)
    )
    for pmid, title, abstract, types, mesh, status, journal, sections in rows:
        if not (title.strip() or abstract.strip()):
            continue
        yield Example(
            pmid=pmid,
            title=title,
            abstract=abstract,
            publication_types=tuple(types or ()),
            mesh_descriptors=tuple(h.get("descriptor", "") for h in mesh or () if isinstance(h, dict)),
            publication_status=status,
            group="db",
            journal=journal,
            section_labels=section_labels(sections),
        )


@dataclass
class TrainingResult:
    classifier: DesignClassifier
    artifact: bytes
    version: str
    metrics: dict[str, Any]


def train(examples: Iterable[Example], *, check_sources: bool = False) -> TrainingResult:
    """Fit on the indexed train and dev splits (cross-fitted, see ``fit``), report metrics on test.

    Raises ValueError when there are too few labelled records to train.
    """
    splits = labelled_splits(examples)
    classifier = fit(splits["train"] + splits["dev"])
    artifact = classifier.to_bytes()
    version = artifact_version(artifact)
    classifier.version = version
    metrics: dict[str, Any] = {
        "model_version": version,
        "counts": {name: dict(sorted(Counter(e.label for e in rows).items())) for name, rows in splits.items()},
        "threshold": classifier.threshold,
        "temperature": classifier.temperature,
        "held_back": classifier.info.get("held_back", {}),
        "test": evaluate(classifier, splits["test"]),
        "test_keyword_baseline": evaluate_baseline(splits["test"]),
    }
    if check_sources:
        usable = sorted(splits["train"] + splits["dev"] + splits["test"], key=lambda e: (e.pmid, e.group))
        metrics["cross_source"] = cross_source_check(usable)
    return TrainingResult(classifier=classifier, artifact=artifact, version=version, metrics=metrics)


def labelled_splits(examples: Iterable[Example]) -> dict[str, list[Example]]:
    """Return the indexed, labelled examples by split ("train", "dev", "test"), each sorted by PMID.

    Raises ValueError when train + dev hold fewer than two learnable rungs or a split is empty.
    """
    usable = sorted((e for e in examples if e.indexed and e.label is not None), key=lambda e: (e.pmid, e.group))
    splits: dict[str, list[Example]] = {"train": [], "dev": [], "test": []}
    for example in usable:
        splits[split_of(example.pmid)].append(example)
    fitting = Counter(e.label for e in splits["train"] + splits["dev"])
    learnable = [name for name, n in fitting.items() if n >= MIN_CLASS_EXAMPLES]
    empty = [name for name, rows in splits.items() if not rows]
    if len(learnable) < 2 or empty:
        raise ValueError(
            f"too few labelled records to train: {len(usable)} indexed records with a design, "
            f"{len(learnable)} designs with at least {MIN_CLASS_EXAMPLES} examples in train + dev (2 needed)"
            + (f", no records in the {' and '.join(empty)} split" if empty else "")
        )
    return splits


def fit(rows: Sequence[Example]) -> DesignClassifier:
    """Fit the vectorisers, then per rung the average of FOLDS cross-fitted logistic regressions.

    Each fold model leaves one fold out and scores it. On these out-of-fold scores the
    temperature (calibration) and the abstention threshold are chosen. Averaging the fold
    models' weights gives one linear model whose scores on unseen records match the out-of-fold
    ones. Rungs with fewer than MIN_CLASS_EXAMPLES examples are left out.
    """
    classifier = fit_vectorisers(rows)
    matrix = classifier.features(inputs_of(rows))
    labels = np.array([e.label for e in rows])
    folds = np.array([fold_of(e.pmid) for e in rows])
    counts = Counter(labels.tolist())
    classes = tuple(level.value for level in CLASSES if counts[level.value] >= MIN_CLASS_EXAMPLES)
    weights, intercepts, out_of_fold = [], [], []
    for name in classes:
        weight, intercept, scores = cross_fit(matrix, labels == name, folds, class_weight=None)
        weights.append(weight)
        intercepts.append(intercept)
        out_of_fold.append(scores)
    classifier.classes = classes
    classifier.weights = np.vstack(weights)
    classifier.intercepts = np.array(intercepts, dtype=np.float64)
    scores = np.column_stack(out_of_fold)
    truth = np.array([classes.index(label) if label in classes else -1 for label in labels])
    classifier.temperature = choose_temperature(scores, truth)
    probabilities = softmax(scores, classifier.temperature)
    classifier.threshold = choose_coverage_threshold(probabilities, truth, min_accuracy=TARGET_ACCURACY)
    classifier.info["held_back"] = {
        "records": len(rows),
        "expected_calibration_error": round(expected_calibration_error(probabilities, truth), 4),
        **coverage_accuracy(probabilities, truth, classifier.threshold),
    }
    return classifier


def fit_vectorisers(rows: Sequence[Example]) -> DesignClassifier:
    """Return a classifier whose vocabularies are fitted on ``rows``, without weights yet."""
    texts = [model_text(e.title, e.abstract) for e in rows]
    text_tfidf = fit_tfidf(texts, ngram_range=(1, 2), min_df=3, max_features=60000)
    title_tfidf = fit_tfidf([e.title.lower() for e in rows], ngram_range=(1, 2), min_df=2, max_features=None)
    return DesignClassifier(
        text_tfidf=text_tfidf,
        title_tfidf=title_tfidf,
        side_vocabulary=fit_side_vocabulary(inputs_of(rows)),
        cue_scale=CUE_SCALE,
        side_scale=SIDE_SCALE,
        info={"trained_on": len(rows), "folds": FOLDS, "cues": len(CUE_NAMES), "seed": SEED},
    )


def cross_fit(
    matrix: Any, truth: np.ndarray, folds: np.ndarray, *, class_weight: str | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """Fit one logistic regression per fold, each leaving its fold out, for one class.

    Returns the fold models' average weights and intercept (the model) and each row's decision
    score from the fold model that did not see it (the out-of-fold scores).
    """
    from sklearn.linear_model import LogisticRegression

    out_of_fold = np.zeros(len(truth))
    weights, intercepts = [], []
    for fold in range(FOLDS):
        held = folds == fold
        if not truth[~held].any():  # no example of the class outside this fold: it scores low
            weights.append(np.zeros(matrix.shape[1]))
            intercepts.append(-10.0)
            out_of_fold[held] = -10.0
            continue
        model = LogisticRegression(C=REGULARISATION_C, solver="liblinear", class_weight=class_weight, random_state=SEED)
        model.fit(matrix[~held], truth[~held])
        out_of_fold[held] = model.decision_function(matrix[held])
        weights.append(model.coef_.ravel())
        intercepts.append(float(model.intercept_[0]))
    return np.mean(weights, axis=0).astype(np.float64), float(np.mean(intercepts)), out_of_fold


def choose_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """Return the softmax temperature (a grid from 0.25 to 4) with the least log loss on ``truth``.

    Rows whose truth is not among the columns (-1) are left out.
    """
    known = truth >= 0
    best, best_loss = 1.0, float("inf")
    for temperature in np.round(np.exp(np.linspace(np.log(0.25), np.log(4.0), 97)), 4):
        probabilities = softmax(scores[known], float(temperature))
        loss = -float(np.mean(np.log(probabilities[np.arange(int(known.sum())), truth[known]] + 1e-12)))
        if loss < best_loss - 1e-12:
            best, best_loss = float(temperature), loss
    return best


def choose_coverage_threshold(probabilities: np.ndarray, truth: np.ndarray, *, min_accuracy: float) -> float:
    """Return the lowest threshold (0.20 to 0.95, step 0.01) whose covered records reach ``min_accuracy``.

    A record is covered when its most likely rung's probability reaches the threshold; when no
    threshold reaches the accuracy, the one with the best accuracy.
    """
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    best_accuracy, best_threshold = -1.0, 0.5
    for threshold in np.round(np.arange(0.20, 0.951, 0.01), 2):
        covered = confidence >= threshold
        if not covered.any():
            continue
        accuracy = float(correct[covered].mean())
        if accuracy >= min_accuracy:
            return float(threshold)
        if accuracy > best_accuracy:
            best_accuracy, best_threshold = accuracy, float(threshold)
    return best_threshold


def coverage_accuracy(probabilities: np.ndarray, truth: np.ndarray, threshold: float) -> dict[str, float]:
    """Return the share of records covered at ``threshold`` and the accuracy on them (and on all)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    covered = confidence >= threshold
    return {
        "threshold": round(float(threshold), 2),
        "coverage": round(float(covered.mean()), 4) if len(truth) else 0.0,
        "accuracy_covered": round(float(correct[covered].mean()), 4) if covered.any() else 0.0,
        "accuracy_all": round(float(correct.mean()), 4) if len(truth) else 0.0,
    }


def expected_calibration_error(probabilities: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    """Return the expected calibration error of the top probability (equal-width bins)."""
    if not len(truth):
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    total = 0.0
    for low in range(bins):
        inside = (confidence > low / bins) & (confidence <= (low + 1) / bins)
        if inside.any():
            total += float(inside.mean()) * abs(float(correct[inside].mean()) - float(confidence[inside].mean()))
    return total


def reliability(probabilities: np.ndarray, truth: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Return the reliability table of the top probability: per bin, records, mean confidence, accuracy."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    table: list[dict[str, Any]] = []
    for low in range(bins):
        inside = (confidence > low / bins) & (confidence <= (low + 1) / bins)
        if inside.any():
            table.append(
                {
                    "bin": f"{low / bins:.1f}-{(low + 1) / bins:.1f}",
                    "records": int(inside.sum()),
                    "confidence": round(float(confidence[inside].mean()), 4),
                    "accuracy": round(float(correct[inside].mean()), 4),
                }
            )
    return table


def classification_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """Return precision, recall and F1 (rounded to 4 places) and the support of boolean predictions."""
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": tp + fn}


def rung_scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Return per-rung precision/recall/F1 and the macro-F1 over the rungs present in ``truth``.

    ``predicted`` may say "unknown" (an abstention): it counts as a miss for the true rung.
    """
    truth_array, predicted_array = np.array(truth), np.array(predicted)
    classes: dict[str, Any] = {}
    for level in CLASSES:
        name = level.value
        classes[name] = classification_scores(truth_array == name, predicted_array == name)
    present = [scores["f1"] for scores in classes.values() if scores["support"]]
    return {"classes": classes, "macro_f1": round(float(np.mean(present)), 4) if present else 0.0}


def evaluate(classifier: DesignClassifier, rows: Sequence[Example]) -> dict[str, Any]:
    """Return the test figures on ``rows``: coverage and accuracy at the model's threshold (and others),
    per-rung precision/recall/F1 (abstentions count as misses) and at full coverage, macro-F1,
    expected calibration error and reliability, ROC AUC of RCT and systematic review, the confusion matrix.
    """
    from sklearn.metrics import roc_auc_score

    probabilities = classifier.probabilities(inputs_of(rows))
    names = list(classifier.classes)
    truth = [e.label or "" for e in rows]
    truth_index = np.array([names.index(t) if t in names else -1 for t in truth])
    best = [names[i] for i in probabilities.argmax(axis=1)] if len(rows) else []
    covered = probabilities.max(axis=1) >= classifier.threshold if len(rows) else np.zeros(0, dtype=bool)
    predicted = [b if c else EvidenceLevel.UNKNOWN.value for b, c in zip(best, covered, strict=True)]
    result: dict[str, Any] = {
        "records": len(rows),
        **coverage_accuracy(probabilities, truth_index, classifier.threshold),
        "at_thresholds": [coverage_accuracy(probabilities, truth_index, t) for t in REPORTED_THRESHOLDS],
        "expected_calibration_error": round(expected_calibration_error(probabilities, truth_index), 4),
        "reliability": reliability(probabilities, truth_index),
    }
    result.update(rung_scores(truth, predicted))
    full = rung_scores(truth, best)
    result["full_coverage"] = {"classes": full["classes"], "macro_f1": full["macro_f1"]}
    for name in (EvidenceLevel.RCT.value, EvidenceLevel.SYSTEMATIC_REVIEW.value):
        is_true = np.array([t == name for t in truth])
        auc = None
        if name in names and 0 < is_true.sum() < len(rows):
            auc = round(float(roc_auc_score(is_true, probabilities[:, names.index(name)])), 4)
        result["classes"][name]["roc_auc"] = auc
    result["confusion"] = confusion(truth, predicted)
    return result


def evaluate_baseline(rows: Sequence[Example]) -> dict[str, Any]:
    """Return the keyword rule's RCT and systematic-review scores.

    "systematic review|meta-analy" gives systematic review, else "randomi[sz]ed" gives RCT.
    """
    predicted = []
    for e in rows:
        text = model_text(e.title, e.abstract)
        label = EvidenceLevel.UNKNOWN.value
        for name, pattern in KEYWORD_BASELINE.items():
            if pattern.search(text):
                label = name
                break
        predicted.append(label)
    truth = np.array([e.label for e in rows])
    result: dict[str, Any] = {"records": len(rows), "classes": {}}
    for name in KEYWORD_BASELINE:
        result["classes"][name] = classification_scores(truth == name, np.array(predicted) == name)
    return result


def confusion(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, int]]:
    """Return {true rung: {predicted rung or unknown: count}} over the rungs present."""
    order = [level.value for level in EvidenceLevel]
    rows = [name for name in order if name in set(truth)]
    columns = [name for name in order if name in set(predicted) | set(truth)]
    table = {t: dict.fromkeys(columns, 0) for t in rows}
    for t, p in zip(truth, predicted, strict=True):
        table[t][p] += 1
    return table


def cross_source_check(rows: Sequence[Example], folds: int = 3) -> dict[str, Any]:
    """Train on some source files, test on the others (files grouped by a hash of their name).

    Many files are topic-specific exports; this shows whether the model learned designs or topics.
    Returns the pooled test figures over the folds (coverage, accuracy, per-rung scores).
    """

    def fold_of_group(group: str) -> int:
        return int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) % folds

    truth_all: list[str] = []
    predicted_all: list[str] = []
    for fold in range(folds):
        held = [e for e in rows if fold_of_group(e.group) == fold]
        rest = [e for e in rows if fold_of_group(e.group) != fold]
        if not held or not rest:
            continue
        classifier = fit(rest)
        predictions = classifier.predict(inputs_of(held))
        truth_all += [e.label or "" for e in held]
        predicted_all += [p.level.value for p in predictions]
    covered = [p != EvidenceLevel.UNKNOWN.value for p in predicted_all]
    right = [t == p for t, p, c in zip(truth_all, predicted_all, covered, strict=True) if c]
    result: dict[str, Any] = {
        "folds": folds,
        "records": len(truth_all),
        "coverage": round(sum(covered) / max(len(covered), 1), 4),
        "accuracy_covered": round(sum(right) / max(len(right), 1), 4),
    }
    result.update(rung_scores(truth_all, predicted_all))
    return result
