"""Predicting the evidence level of the records of a PubMed file (used by ``predict_evidence``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from records.evidence.artifacts import default_models_dir, load_current
from records.evidence.classifier import ArtifactError, DesignClassifier, DesignInput
from records.evidence.levels import EvidenceLevel
from records.evidence.rules import grade_by_rules


class NoModelError(Exception):
    """No usable design classifier: the message says how to train one."""


def require_model(models_dir: Path | None = None) -> DesignClassifier:
    """Return the current classifier; raises NoModelError saying how to train one when there is none."""
    folder = models_dir or default_models_dir()
    try:
        model = load_current(folder)
    except ArtifactError as error:
        raise NoModelError(f"the design classifier in {folder} is unusable ({error})") from None
    if model is None:
        raise NoModelError(
            f"no design classifier in {folder}: train one first with "
            "`python manage.py train_design_classifier --pubmed ../shared/data/pubmed` (or --from-db)"
        )
    return model


def predict_file(
    path: Path, *, text_only: bool = True, models_dir: Path | None = None, threshold: float | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return one row per record of a PubMed file, and the file's problems.

    A row is {pmid, level, probability (of the most likely design), best_level, probabilities
    (every design), expected_strength, cues, reason (why the classifier refused the input, or
    ""), source, model_version}. ``text_only`` ignores the file's publication types and MeSH;
    otherwise the rules grade what PubMed indexed (source "indexed") and the classifier grades
    the rest. ``threshold`` overrides the model's. Raises NoModelError without a model.
    """
    from ingest.pubmed import ParsedRecord, ParseProblem, iter_pubmed_file

    model = require_model(models_dir)
    records: list[ParsedRecord] = []
    problems: list[str] = []
    for item in iter_pubmed_file(path):
        if isinstance(item, ParsedRecord):
            records.append(item)
        elif isinstance(item, ParseProblem):
            problems.append(f"{item.location}: {item.reason}")
    inputs = [
        DesignInput(
            title=r.title,
            abstract=r.abstract,
            journal=r.journal,
            section_labels=tuple(s.label for s in r.abstract_sections if s.label),
        )
        for r in records
    ]
    predictions = model.predict(inputs, threshold=threshold, explain=True)
    rows = []
    for record, prediction in zip(records, predictions, strict=True):
        row: dict[str, Any] = {
            "pmid": record.source_id,
            "level": prediction.level.value,
            "probability": round(prediction.probability, 4),
            "best_level": prediction.best_level.value,
            "probabilities": {k: round(v, 4) for k, v in prediction.probabilities.items()},
            "expected_strength": round(prediction.strength, 4),
            "cues": list(prediction.cues),
            "reason": prediction.reason,
            "source": "predicted",
            "model_version": model.version,
        }
        if not text_only:
            grade = grade_by_rules(
                publication_types=record.publication_types,
                mesh_descriptors=[h.descriptor for h in record.mesh_headings],
                retracted=record.retracted,
                publication_status=record.publication_status,
            )
            if not grade.needs_prediction:
                row.update(
                    level=grade.level.value,
                    probability=None,
                    source="indexed",
                    explanation=grade.explanation,
                    expected_strength=round(grade.strength, 4),
                )
            elif prediction.level == EvidenceLevel.UNKNOWN:
                row["source"] = "predicted (below threshold)" if not prediction.reason else "predicted (unreadable)"
        rows.append(row)
    return rows, problems
