"""Training and evaluating the study-design classifier (deterministic: fixed seeds, sorted data).

Labels come from PubMed's own indexing through the rules (``grade_by_rules``): systematic review
/ meta-analysis, randomised controlled trial, or other. Only MEDLINE-indexed records train and
test the model, since records PubMed has not indexed carry few publication types (they would be
"other" whatever their design). Records are split by a hash of the PMID into train (70%), dev
(10%) and test (20%: the reported figures), so no test record is ever trained on. Train and dev
together fit the model by cross-fitting: five fold models (folds by another PMID hash), their
average is the model, and the thresholds are chosen on the out-of-fold probabilities, so they
are set on records the scoring model did not see (some 370 positives rather than dev's 40).
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
    CUES,
    OTHER,
    SEED,
    DesignClassifier,
    artifact_version,
    fit_tfidf,
    model_text,
    sigmoid,
)
from records.evidence.levels import EvidenceLevel
from records.evidence.rules import grade_by_rules

INDEXED_STATUSES = frozenset({"MEDLINE", "OLDMEDLINE"})
NOTICE_TYPES = frozenset({"retraction of publication", "published erratum", "expression of concern"})
# Precision each class must keep on the out-of-fold probabilities when its threshold is chosen.
TARGET_PRECISION = {EvidenceLevel.RCT.value: 0.90, EvidenceLevel.SYSTEMATIC_REVIEW.value: 0.80}
# Inverse regularisation strength of the logistic regressions, and the weight of the cue counts.
REGULARISATION_C = 10.0
CUE_SCALE = 0.5
FOLDS = 5
KEYWORD_BASELINE = {
    EvidenceLevel.SYSTEMATIC_REVIEW.value: re.compile(r"systematic review|meta-analy"),
    EvidenceLevel.RCT.value: re.compile(r"randomi[sz]ed"),
}


@dataclass(frozen=True)
class Example:
    """One labelled text: what the model sees (title, abstract) and what PubMed says of it."""

    pmid: str
    title: str
    abstract: str
    publication_types: tuple[str, ...]
    mesh_descriptors: tuple[str, ...]
    publication_status: str = ""
    group: str = ""  # the source file (or "db"), for the cross-source check

    @property
    def label(self) -> str | None:
        """Return "rct", "systematic_review", "other", or None for notices (not studies)."""
        if {t.lower() for t in self.publication_types} & NOTICE_TYPES:
            return None
        level = grade_by_rules(publication_types=self.publication_types, mesh_descriptors=self.mesh_descriptors).level
        return level.value if level in CLASSES else OTHER

    @property
    def indexed(self) -> bool:
        """True for MEDLINE-indexed records (status MEDLINE/OLDMEDLINE, or no status but MeSH)."""
        if self.publication_status:
            return self.publication_status in INDEXED_STATUSES
        return bool(self.mesh_descriptors)


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
            if not (item.title.strip() or item.abstract.strip()):
                continue
            yield Example(
                pmid=item.source_id,
                title=item.title,
                abstract=item.abstract,
                publication_types=tuple(item.publication_types),
                mesh_descriptors=tuple(h.descriptor for h in item.mesh_headings),
                publication_status=item.publication_status,
                group=path.name,
            )


def examples_from_db() -> Iterator[Example]:
    """Yield one Example per live PubMed record in the database (PubMed's indexing is the label)."""
    from records.models import EvidenceRecord

    rows = (
        EvidenceRecord.objects.filter(source="pubmed", deleted_at__isnull=True)
        .order_by("pmid", "id")
        .values_list("pmid", "title", "abstract", "publication_types", "mesh_headings", "publication_status")
        .iterator(chunk_size=2000)
    )
    for pmid, title, abstract, types, mesh, status in rows:
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
        )


@dataclass
class TrainingResult:
    classifier: DesignClassifier
    artifact: bytes
    version: str
    metrics: dict[str, Any]


def train(examples: Iterable[Example], *, check_sources: bool = False) -> TrainingResult:
    """Fit on the indexed train and dev splits (cross-fitted, see ``fit``), report metrics on test.

    Raises ValueError when a split lacks examples of a class (too little data to train).
    """
    splits = labelled_splits(examples)
    classifier = fit(splits["train"] + splits["dev"])
    artifact = classifier.to_bytes()
    version = artifact_version(artifact)
    classifier.version = version
    metrics: dict[str, Any] = {
        "model_version": version,
        "counts": {name: dict(sorted(Counter(e.label for e in rows).items())) for name, rows in splits.items()},
        "thresholds": classifier.thresholds,
        "test": evaluate(classifier, splits["test"]),
        "test_keyword_baseline": evaluate_baseline(splits["test"]),
    }
    if check_sources:
        usable = sorted(splits["train"] + splits["dev"] + splits["test"], key=lambda e: (e.pmid, e.group))
        metrics["cross_source"] = cross_source_check(usable)
    return TrainingResult(classifier=classifier, artifact=artifact, version=version, metrics=metrics)


def labelled_splits(examples: Iterable[Example]) -> dict[str, list[Example]]:
    """Return the indexed, labelled examples by split ("train", "dev", "test"), each sorted by PMID.

    Raises ValueError when a split lacks examples of a class (too little data to train).
    """
    usable = sorted((e for e in examples if e.indexed and e.label is not None), key=lambda e: (e.pmid, e.group))
    splits: dict[str, list[Example]] = {"train": [], "dev": [], "test": []}
    for example in usable:
        splits[split_of(example.pmid)].append(example)
    for name, rows in splits.items():
        present = Counter(e.label for e in rows)
        missing = [level.value for level in CLASSES if present[level.value] == 0]
        if missing or present[OTHER] == 0:
            raise ValueError(
                f"too few labelled records to train: the {name} split has no {', '.join(missing) or OTHER} "
                f"examples ({len(rows)} indexed records in it)"
            )
    return splits


def fit(rows: Sequence[Example]) -> DesignClassifier:
    """Fit the vectorisers, then per class the average of FOLDS cross-fitted logistic regressions.

    Each fold model leaves one fold out and scores it; the thresholds are chosen on these
    out-of-fold probabilities. Averaging the fold models' weights gives one linear model whose
    scores on unseen records match the out-of-fold ones the thresholds were chosen on.
    """
    classifier = fit_vectorisers(rows)
    matrix = classifier.features([e.title for e in rows], [e.abstract for e in rows])
    labels = np.array([e.label for e in rows])
    folds = np.array([fold_of(e.pmid) for e in rows])
    for level in CLASSES:
        truth = labels == level.value
        weight, intercept, out_of_fold = cross_fit(matrix, truth, folds)
        classifier.weights[level.value] = weight
        classifier.intercepts[level.value] = intercept
        classifier.thresholds[level.value] = choose_threshold(
            sigmoid(out_of_fold), truth, min_precision=TARGET_PRECISION[level.value]
        )
    return classifier


def fit_vectorisers(rows: Sequence[Example]) -> DesignClassifier:
    """Return a classifier whose TF-IDF vocabularies are fitted on ``rows``, without weights yet."""
    texts = [model_text(e.title, e.abstract) for e in rows]
    text_tfidf = fit_tfidf(texts, ngram_range=(1, 2), min_df=3, max_features=60000)
    title_tfidf = fit_tfidf([e.title.lower() for e in rows], ngram_range=(1, 2), min_df=2, max_features=None)
    return DesignClassifier(
        text_tfidf=text_tfidf,
        title_tfidf=title_tfidf,
        weights={},
        intercepts={},
        thresholds={},
        cue_scale=CUE_SCALE,
        info={"trained_on": len(rows), "folds": FOLDS, "cues": len(CUES), "seed": SEED},
    )


def cross_fit(matrix: Any, truth: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Fit one logistic regression per fold, each leaving its fold out, for one class.

    Returns the fold models' average weights and intercept (the model) and each row's decision
    score from the fold model that did not see it (the out-of-fold scores).
    """
    from sklearn.linear_model import LogisticRegression

    out_of_fold = np.zeros(len(truth))
    weights, intercepts = [], []
    for fold in range(FOLDS):
        held = folds == fold
        model = LogisticRegression(C=REGULARISATION_C, solver="liblinear", class_weight="balanced", random_state=SEED)
        model.fit(matrix[~held], truth[~held])
        out_of_fold[held] = model.decision_function(matrix[held])
        weights.append(model.coef_.ravel())
        intercepts.append(float(model.intercept_[0]))
    return np.mean(weights, axis=0).astype(np.float64), float(np.mean(intercepts)), out_of_fold


def choose_threshold(scores: np.ndarray, truth: np.ndarray, *, min_precision: float) -> float:
    """Return the lowest threshold whose precision reaches ``min_precision`` (best F1 if none does).

    Thresholds are rounded to 0.01 and kept within [0.2, 0.95], so a few records cannot push
    them to an extreme.
    """
    candidates = np.round(np.arange(0.20, 0.951, 0.01), 2)
    best_f1, best_f1_threshold = -1.0, 0.5
    for threshold in candidates:
        predicted = scores >= threshold
        tp = int(np.sum(predicted & truth))
        precision = tp / max(int(predicted.sum()), 1)
        recall = tp / max(int(truth.sum()), 1)
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        if f1 > best_f1:
            best_f1, best_f1_threshold = f1, float(threshold)
        if tp and precision >= min_precision:
            return float(threshold)
    return best_f1_threshold


def classification_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    """Return precision, recall and F1 (rounded to 4 places) and the support of boolean predictions."""
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": tp + fn}


def evaluate(classifier: DesignClassifier, rows: Sequence[Example]) -> dict[str, Any]:
    """Return per-class precision, recall, F1, ROC AUC and the confusion matrix on ``rows``."""
    from sklearn.metrics import roc_auc_score

    predictions = classifier.predict([e.title for e in rows], [e.abstract for e in rows])
    truth = [e.label for e in rows]
    predicted = [p.level.value if p.level in CLASSES else OTHER for p in predictions]
    result: dict[str, Any] = {"records": len(rows), "classes": {}}
    for level in CLASSES:
        name = level.value
        is_true = np.array([t == name for t in truth])
        scores: dict[str, float | int | None] = dict(
            classification_scores(is_true, np.array([p == name for p in predicted]))
        )
        probs = np.array([p.probabilities[name] for p in predictions])
        scores["roc_auc"] = round(float(roc_auc_score(is_true, probs)), 4) if 0 < is_true.sum() < len(rows) else None
        result["classes"][name] = scores
    result["confusion"] = confusion(truth, predicted)
    return result


def evaluate_baseline(rows: Sequence[Example]) -> dict[str, Any]:
    """Return the keyword rule's scores: "systematic review|meta-analy" first, then "randomi[sz]ed"."""
    predicted = []
    for e in rows:
        text = model_text(e.title, e.abstract)
        label = OTHER
        for name, pattern in KEYWORD_BASELINE.items():
            if pattern.search(text):
                label = name
                break
        predicted.append(label)
    truth = [e.label for e in rows]
    result: dict[str, Any] = {"records": len(rows), "classes": {}}
    for level in CLASSES:
        name = level.value
        result["classes"][name] = classification_scores(
            np.array([t == name for t in truth]), np.array([p == name for p in predicted])
        )
    result["confusion"] = confusion(truth, predicted)
    return result


def confusion(truth: Sequence[str | None], predicted: Sequence[str]) -> dict[str, dict[str, int]]:
    """Return {true label: {predicted label: count}} over rct, systematic_review and other."""
    names = [level.value for level in CLASSES] + [OTHER]
    table = {t: dict.fromkeys(names, 0) for t in names}
    for t, p in zip(truth, predicted, strict=True):
        table[t or OTHER][p] += 1
    return table


def cross_source_check(rows: Sequence[Example], folds: int = 3) -> dict[str, Any]:
    """Train on some source files, test on the others (files grouped by a hash of their name).

    Many files are topic-specific exports; this shows whether the model learned designs or topics.
    Returns the pooled test scores over the folds.
    """

    def fold_of(group: str) -> int:
        return int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) % folds

    truth_all: list[str | None] = []
    predicted_all: list[str] = []
    for fold in range(folds):
        held = [e for e in rows if fold_of(e.group) == fold]
        rest = [e for e in rows if fold_of(e.group) != fold]
        if not held or not rest:
            continue
        classifier = fit(rest)
        predictions = classifier.predict([e.title for e in held], [e.abstract for e in held])
        truth_all += [e.label for e in held]
        predicted_all += [p.level.value if p.level in CLASSES else OTHER for p in predictions]
    result: dict[str, Any] = {"folds": folds, "records": len(truth_all), "classes": {}}
    for level in CLASSES:
        name = level.value
        result["classes"][name] = classification_scores(
            np.array([t == name for t in truth_all]), np.array([p == name for p in predicted_all])
        )
    return result
