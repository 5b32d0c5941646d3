"""Grading records and training the design classifier (the writes of records.evidence)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from records.evidence.artifacts import load_current, save_artifact
from records.evidence.classifier import MAX_ABSTRACT_CHARS, ArtifactError, DesignClassifier, DesignInput, Prediction
from records.evidence.levels import EvidenceLevel, level_info
from records.evidence.rules import Grade, grade_by_rules
from records.evidence.training import TrainingResult, examples_from_db, examples_from_files, section_labels, train
from records.models import DesignPredictionCheck, EvidenceRecord, RecordKind

logger = logging.getLogger(__name__)

GRADE_FIELDS = [
    "evidence_level",
    "evidence_explanation",
    "evidence_predicted",
    "evidence_model_version",
    "evidence_probability",
    "evidence_probabilities",
    "evidence_strength",
]
_READ_FIELDS = [
    "id",
    "kind",
    "title",
    "abstract",
    "abstract_sections",
    "journal",
    "publication_types",
    "mesh_headings",
    "publication_status",
    "retracted",
    "issuing_body",
    "evidence_level",
    "evidence_model_version",
    "evidence_probability",
    "evidence_probabilities",
]
BATCH = 500
RETRACTED_SUFFIX = "; retracted: never ranked as strong evidence"


def _mesh_descriptors(value: Any) -> list[str]:
    return [h.get("descriptor", "") for h in value or () if isinstance(h, dict)]


def _guideline_grade(record: EvidenceRecord) -> Grade:
    body = record.issuing_body or "its issuing body"
    what = "a recommendation of " if record.kind == RecordKind.RECOMMENDATION else "a "
    reason = f"{what}clinical practice guideline issued by {body}"
    suffix = RETRACTED_SUFFIX if record.retracted else ""
    return Grade(
        level=EvidenceLevel.GUIDELINE,
        reasons=(reason,),
        explanation=f"clinical practice guideline: {reason}{suffix}",
        retracted=record.retracted,
    )


def percent(probability: float) -> str:
    """Return a probability as the badge shows it: "87 %"."""
    return f"{round(probability * 100)} %"


def predicted_grade(rule_grade: Grade, *, prediction: Prediction, model: DesignClassifier) -> Grade:
    """Return the grade for a record the rules could not grade, from the classifier's verdict.

    A rung whose probability reaches the threshold is the level (marked predicted); below it the
    level stays UNKNOWN (not marked predicted) but the probabilities are kept, so the ranking
    boosts the record by their expected strength. An input the classifier refuses (no text, a
    notice, not English) stays UNKNOWN with the reason and no probabilities.
    """
    suffix = RETRACTED_SUFFIX if rule_grade.retracted else ""
    if prediction.reason:
        return Grade(
            level=EvidenceLevel.UNKNOWN,
            reasons=(*rule_grade.reasons, f"not predicted: {prediction.reason}"),
            explanation=f"{rule_grade.explanation}; not predicted: {prediction.reason}",
            model_version=model.version,
            retracted=rule_grade.retracted,
        )
    notes = []
    if prediction.title_only:
        notes.append("read from the title only: there is no abstract")
    if prediction.truncated:
        notes.append(f"only the first {MAX_ABSTRACT_CHARS:,} characters of the abstract were read")
    common = {
        "probability": round(prediction.probability, 4),
        "model_version": model.version,
        "retracted": rule_grade.retracted,
        "probabilities": {name: round(p, 4) for name, p in prediction.probabilities.items()},
        "cues": prediction.cues,
        "best_level": prediction.best_level.value,
    }
    cues = f"; top cues: {', '.join(prediction.cues)}" if prediction.cues else ""
    note = f" ({'; '.join(notes)})" if notes else ""
    if prediction.level == EvidenceLevel.UNKNOWN:
        best = level_info(prediction.best_level).short_name
        return Grade(
            level=EvidenceLevel.UNKNOWN,
            reasons=rule_grade.reasons,
            explanation=(
                f"{rule_grade.explanation}; the design classifier {model.version} found no design likely "
                f"enough (most likely {best}, {percent(prediction.probability)}){note}"
            ),
            predicted=False,
            **common,  # type: ignore[arg-type]
        )
    name = level_info(prediction.level).name.lower()
    reason = f"predicted from the title and abstract by the design classifier {model.version}"
    return Grade(
        level=prediction.level,
        reasons=(reason, *rule_grade.reasons),
        explanation=(
            f"{name} (predicted, {percent(prediction.probability)}): not yet indexed by PubMed, "
            f"{reason}{note}{cues}{suffix}"
        ),
        predicted=True,
        **common,  # type: ignore[arg-type]
    )


def _current_model() -> DesignClassifier | None:
    try:
        return load_current()
    except ArtifactError as error:
        logger.error("design classifier unusable, records awaiting indexing stay unknown: %s", error)
        return None


def design_input(record: EvidenceRecord) -> DesignInput:
    """Return what the classifier reads of a stored record."""
    return DesignInput(
        title=record.title or "",
        abstract=record.abstract or "",
        journal=record.journal or "",
        section_labels=section_labels(record.abstract_sections),
    )


def prediction_threshold() -> float | None:
    """Return ``EVIDENCE_PREDICTION_THRESHOLD``, or None to use the model's (chosen on held-back data)."""
    value = getattr(settings, "EVIDENCE_PREDICTION_THRESHOLD", None)
    return None if value is None else float(value)


def grades_for(records: Sequence[EvidenceRecord], *, model: DesignClassifier | None) -> list[Grade | None]:
    """Return one grade per record: rules first, the classifier for articles awaiting indexing.

    Guidelines and their recommendations are graded by their source; a record of any other
    kind gets None (left as it is). Only articles ever reach the classifier.
    """
    grades: list[Grade | None] = []
    for record in records:
        if record.kind in (RecordKind.GUIDELINE, RecordKind.RECOMMENDATION):
            grades.append(_guideline_grade(record))
            continue
        if record.kind != RecordKind.ARTICLE:
            grades.append(None)
            continue
        grades.append(
            grade_by_rules(
                publication_types=record.publication_types or [],
                mesh_descriptors=_mesh_descriptors(record.mesh_headings),
                retracted=record.retracted,
                publication_status=record.publication_status,
            )
        )
    waiting = [i for i, grade in enumerate(grades) if grade is not None and grade.needs_prediction]
    if waiting and model is not None:
        predictions = model.predict(
            [design_input(records[i]) for i in waiting], threshold=prediction_threshold(), explain=True
        )
        for i, prediction in zip(waiting, predictions, strict=True):
            rule_grade = grades[i]
            assert rule_grade is not None
            grades[i] = predicted_grade(rule_grade, prediction=prediction, model=model)
    return grades


def _apply(record: EvidenceRecord, grade: Grade) -> None:
    record.evidence_level = grade.level.value
    explanation: dict[str, Any] = {
        "text": grade.explanation,
        "reasons": list(grade.reasons),
        "source": grade.source,
        "retracted": grade.retracted,
    }
    if grade.cues:
        explanation["cues"] = list(grade.cues)
    if grade.best_level:
        explanation["best_level"] = grade.best_level
    record.evidence_explanation = explanation
    record.evidence_predicted = grade.predicted
    record.evidence_model_version = grade.model_version
    record.evidence_probability = grade.probability
    record.evidence_probabilities = dict(grade.probabilities)
    record.evidence_strength = grade.strength


def _prediction_check(record: EvidenceRecord, grade: Grade) -> DesignPredictionCheck | None:
    """Return the check of a record's earlier prediction against the indexed grade it now gets, if any."""
    earlier = record.evidence_probabilities or {}
    if not earlier or grade.needs_prediction or grade.probabilities or grade.level == EvidenceLevel.UNKNOWN:
        return None
    return DesignPredictionCheck(
        record_id=record.id,
        predicted_level=record.evidence_level or EvidenceLevel.UNKNOWN.value,
        best_level=max(sorted(earlier), key=lambda name: earlier[name]),
        probability=record.evidence_probability,
        model_version=record.evidence_model_version,
        indexed_level=grade.level.value,
    )


def records_grade(*, record_ids: Sequence[int]) -> int:
    """Grade the given records and store level, explanation, predicted flag, model, probabilities, strength.

    Ids of missing records, and records of a kind grading does not know, are left alone. When a
    record predicted earlier now gets its grade from PubMed's indexing, the two are compared and
    the check stored (``DesignPredictionCheck``). Returns how many records were graded.
    Bulk-updated in batches of 500, so the harvest pipeline can call it for every changed record.
    """
    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return 0
    model = _current_model()
    graded = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        records = list(EvidenceRecord.objects.filter(id__in=chunk).only(*_READ_FIELDS).order_by("id"))
        # Most records of a batch share a grade: one UPDATE per distinct grade is far cheaper
        # than bulk_update's per-row CASE expressions (which dominated SQLite load time).
        same_grade: dict[str, list[int]] = {}
        values_of: dict[str, dict[str, Any]] = {}
        checks = []
        for record, grade in zip(records, grades_for(records, model=model), strict=True):
            if grade is None:
                continue
            check = _prediction_check(record, grade)
            if check is not None:
                checks.append(check)
            _apply(record, grade)
            values = {name: getattr(record, name) for name in GRADE_FIELDS}
            key = json.dumps(values, sort_keys=True, default=str)
            same_grade.setdefault(key, []).append(record.id)
            values_of[key] = values
            graded += 1
        with transaction.atomic():
            for key, ids_with_grade in same_grade.items():
                EvidenceRecord.objects.filter(id__in=ids_with_grade).update(**values_of[key])
            if checks:
                DesignPredictionCheck.objects.bulk_create(checks, ignore_conflicts=True)
    return graded


def design_prediction_report() -> dict[str, Any]:
    """Return how often predictions were confirmed by later indexing, by predicted rung (the live accuracy).

    ``rungs``: per predicted rung, checked and confirmed counts and the accuracy; ``abstained``:
    records predicted unknown, with how often their most likely rung was right; ``overall``.
    """
    rows = DesignPredictionCheck.objects.values_list("predicted_level", "best_level", "indexed_level")
    rungs: dict[str, dict[str, Any]] = {}
    abstained = {"checked": 0, "best_confirmed": 0}
    for predicted, best, indexed in rows.iterator():
        if predicted == EvidenceLevel.UNKNOWN.value:
            abstained["checked"] += 1
            abstained["best_confirmed"] += int(best == indexed)
            continue
        entry = rungs.setdefault(predicted, {"checked": 0, "confirmed": 0})
        entry["checked"] += 1
        entry["confirmed"] += int(predicted == indexed)
    order = [level.value for level in EvidenceLevel]
    table = {}
    for name in sorted(rungs, key=order.index):
        entry = rungs[name]
        table[name] = {**entry, "accuracy": round(entry["confirmed"] / entry["checked"], 4)}
    checked = sum(e["checked"] for e in rungs.values())
    confirmed = sum(e["confirmed"] for e in rungs.values())
    return {
        "rungs": table,
        "overall": {
            "checked": checked,
            "confirmed": confirmed,
            "accuracy": round(confirmed / checked, 4) if checked else None,
        },
        "abstained": {
            **abstained,
            "best_accuracy": round(abstained["best_confirmed"] / abstained["checked"], 4)
            if abstained["checked"]
            else None,
        },
    }


def record_id_batches(*, batch_size: int = 1000, only_unsettled: bool = False) -> Iterator[list[int]]:
    """Yield the ids of live records in batches (ascending); ``only_unsettled``: ungraded, unknown or predicted."""
    queryset = EvidenceRecord.objects.filter(deleted_at__isnull=True)
    if only_unsettled:
        queryset = queryset.filter(
            Q(evidence_level__isnull=True) | Q(evidence_level=EvidenceLevel.UNKNOWN.value) | Q(evidence_predicted=True)
        )
    last = 0
    while True:
        batch = list(queryset.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1]


@dataclass
class TrainedModel:
    result: TrainingResult
    folder: Path


def design_classifier_train(
    *,
    pubmed_paths: Sequence[Path] = (),
    models_dir: Path | None = None,
    check_sources: bool = False,
) -> TrainedModel:
    """Train the design classifier from PubMed files (or, with no paths, the database) and make it current.

    Raises ValueError when there are too few labelled records to train.
    """
    examples = examples_from_files(pubmed_paths) if pubmed_paths else examples_from_db()
    result = train(examples, check_sources=check_sources)
    folder = save_artifact(artifact=result.artifact, metrics=result.metrics, models_dir=models_dir)
    logger.info("design classifier %s trained, written to %s", result.version, folder)
    return TrainedModel(result=result, folder=folder)
