"""Grading records and training the design classifier (the writes of records.evidence)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q

from records.evidence.artifacts import load_current, save_artifact
from records.evidence.classifier import ArtifactError, DesignClassifier
from records.evidence.levels import EvidenceLevel, level_info
from records.evidence.rules import Grade, grade_by_rules
from records.evidence.training import TrainingResult, examples_from_db, examples_from_files, train
from records.models import EvidenceRecord, RecordKind

logger = logging.getLogger(__name__)

GRADE_FIELDS = [
    "evidence_level",
    "evidence_explanation",
    "evidence_predicted",
    "evidence_model_version",
    "evidence_probability",
]
_READ_FIELDS = [
    "id",
    "kind",
    "title",
    "abstract",
    "publication_types",
    "mesh_headings",
    "publication_status",
    "retracted",
    "issuing_body",
]
BATCH = 500


def _mesh_descriptors(value: Any) -> list[str]:
    return [h.get("descriptor", "") for h in value or () if isinstance(h, dict)]


def _guideline_grade(record: EvidenceRecord) -> Grade:
    body = record.issuing_body or "its issuing body"
    what = "a recommendation of " if record.kind == RecordKind.RECOMMENDATION else "a "
    reason = f"{what}clinical practice guideline issued by {body}"
    suffix = "; retracted: never ranked as strong evidence" if record.retracted else ""
    return Grade(
        level=EvidenceLevel.GUIDELINE,
        reasons=(reason,),
        explanation=f"clinical practice guideline: {reason}{suffix}",
        retracted=record.retracted,
    )


def predicted_grade(rule_grade: Grade, *, level: EvidenceLevel, probability: float, model: DesignClassifier) -> Grade:
    """Return the grade for a record the rules could not grade, from the classifier's verdict.

    Below the model's threshold the level stays UNKNOWN (and the grade is not marked predicted).
    """
    suffix = "; retracted: never ranked as strong evidence" if rule_grade.retracted else ""
    if level == EvidenceLevel.UNKNOWN:
        return Grade(
            level=EvidenceLevel.UNKNOWN,
            reasons=rule_grade.reasons,
            explanation=(
                f"{rule_grade.explanation}; the design classifier {model.version} was not confident "
                f"enough to predict a design (best design probability {1.0 - probability:.2f})"
            ),
            predicted=False,
            probability=round(probability, 4),
            model_version=model.version,
            retracted=rule_grade.retracted,
        )
    name = level_info(level).name.lower()
    reason = f"predicted from the title and abstract by the design classifier {model.version}"
    return Grade(
        level=level,
        reasons=(reason, *rule_grade.reasons),
        explanation=(f"{name} (predicted, probability {probability:.2f}): not yet indexed by PubMed, {reason}{suffix}"),
        predicted=True,
        probability=round(probability, 4),
        model_version=model.version,
        retracted=rule_grade.retracted,
    )


def _current_model() -> DesignClassifier | None:
    try:
        return load_current()
    except ArtifactError as error:
        logger.error("design classifier unusable, records awaiting indexing stay unknown: %s", error)
        return None


def grades_for(records: Sequence[EvidenceRecord], *, model: DesignClassifier | None) -> list[Grade]:
    """Return one grade per record: rules first, the classifier for records awaiting indexing."""
    grades: list[Grade] = []
    for record in records:
        if record.kind in (RecordKind.GUIDELINE, RecordKind.RECOMMENDATION):
            grades.append(_guideline_grade(record))
            continue
        grades.append(
            grade_by_rules(
                publication_types=record.publication_types or [],
                mesh_descriptors=_mesh_descriptors(record.mesh_headings),
                retracted=record.retracted,
                publication_status=record.publication_status,
            )
        )
    waiting = [i for i, grade in enumerate(grades) if grade.needs_prediction]
    if waiting and model is not None:
        predictions = model.predict([records[i].title for i in waiting], [records[i].abstract for i in waiting])
        for i, prediction in zip(waiting, predictions, strict=True):
            grades[i] = predicted_grade(
                grades[i], level=prediction.level, probability=prediction.probability, model=model
            )
    return grades


def _apply(record: EvidenceRecord, grade: Grade) -> None:
    record.evidence_level = grade.level.value
    record.evidence_explanation = {
        "text": grade.explanation,
        "reasons": list(grade.reasons),
        "source": grade.source,
        "retracted": grade.retracted,
    }
    record.evidence_predicted = grade.predicted
    record.evidence_model_version = grade.model_version
    record.evidence_probability = grade.probability


def records_grade(*, record_ids: Sequence[int]) -> int:
    """Grade the given records and store level, explanation, predicted flag, model and probability.

    Ids of missing records are ignored. Returns how many records were graded. Bulk-updated in
    batches of 500, so the harvest pipeline can call it for every changed record.
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
        for record, grade in zip(records, grades_for(records, model=model), strict=True):
            _apply(record, grade)
            values = {name: getattr(record, name) for name in GRADE_FIELDS}
            key = json.dumps(values, sort_keys=True, default=str)
            same_grade.setdefault(key, []).append(record.id)
            values_of[key] = values
        with transaction.atomic():
            for key, ids_with_grade in same_grade.items():
                EvidenceRecord.objects.filter(id__in=ids_with_grade).update(**values_of[key])
        graded += len(records)
    return graded


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
