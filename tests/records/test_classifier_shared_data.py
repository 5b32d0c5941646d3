"""The design classifier trained on the real shared PubMed records, judged on records it never saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from records.evidence.levels import EvidenceLevel
from records.evidence.services import design_classifier_train

# One training over the shared records: about 2.5 CPU-minutes, far longer on a loaded machine.
pytestmark = [pytest.mark.shared_data, pytest.mark.slow, pytest.mark.timeout(2400)]

# The issue's targets on the held-back test split (MEDLINE-indexed records, split by PMID, truth
# = the rule grade of their indexing). Reached: coverage, accuracy on covered, RCT and
# systematic-review precision. Not reached (docs/evidence-levels.md: PubMed labels the text
# contradicts): RCT recall 0.85 and systematic-review recall 0.80. FLOORS hold the measured
# quality (with a margin) so it cannot silently degrade.
TARGETS_MET = {"coverage": 0.80, "accuracy_covered": 0.85}
CLASS_TARGETS_MET = {"rct": {"precision": 0.90}, "systematic_review": {"precision": 0.75}}
FLOORS = {
    "rct": {"recall": 0.68, "roc_auc": 0.98},
    "systematic_review": {"recall": 0.64, "roc_auc": 0.965},
    "preclinical": {"precision": 0.88, "recall": 0.93},
    "cohort": {"precision": 0.80, "recall": 0.75},
}


@pytest.fixture(scope="module")
def trained(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    models = tmp_path_factory.mktemp("models")
    return design_classifier_train(pubmed_paths=[shared_data / "pubmed"], models_dir=models), models


def test_test_split_holds_only_records_never_trained_on(trained):
    result, _ = trained
    counts = result.result.metrics["counts"]
    assert counts["test"]["rct"] >= 50
    assert counts["test"]["systematic_review"] >= 25
    assert result.result.classifier.info["trained_on"] == sum(counts["train"].values()) + sum(counts["dev"].values())


def test_classifier_beats_the_keyword_baseline_on_the_test_split(trained):
    metrics = trained[0].result.metrics
    for name in ("rct", "systematic_review"):
        model = metrics["test"]["classes"][name]
        baseline = metrics["test_keyword_baseline"]["classes"][name]
        assert model["precision"] > baseline["precision"], (name, model, baseline)
    # RCT: better on both counts. Systematic reviews: the keyword rule finds more of them (recall
    # 0.87 against 0.71) at lower precision; its F1 is higher (docs/evidence-levels.md).
    assert metrics["test"]["classes"]["rct"]["f1"] > metrics["test_keyword_baseline"]["classes"]["rct"]["f1"]


@pytest.mark.parametrize("measure", list(TARGETS_MET))
def test_coverage_and_accuracy_reach_the_issue_target_on_the_test_split(trained, measure):
    test = trained[0].result.metrics["test"]
    assert test[measure] >= TARGETS_MET[measure], {k: test[k] for k in TARGETS_MET}


@pytest.mark.parametrize(("name", "measure"), [(n, m) for n, ms in CLASS_TARGETS_MET.items() for m in ms])
def test_classifier_reaches_the_issue_target_on_the_test_split(trained, name, measure):
    scores = trained[0].result.metrics["test"]["classes"][name]
    assert scores[measure] >= CLASS_TARGETS_MET[name][measure], (name, scores)


@pytest.mark.parametrize(("name", "measure"), [(n, m) for n, ms in FLOORS.items() for m in ms])
def test_classifier_keeps_its_measured_quality_on_the_test_split(trained, name, measure):
    scores = trained[0].result.metrics["test"]["classes"][name]
    assert scores[measure] >= FLOORS[name][measure], (name, scores)


def test_probabilities_are_calibrated_on_the_test_split(trained):
    test = trained[0].result.metrics["test"]
    assert test["expected_calibration_error"] <= 0.05
    assert test["macro_f1"] >= 0.62


def test_predict_evidence_on_a_real_file_ignores_its_indexing(trained, shared_data, capsys):
    _, models = trained
    path = shared_data / "pubmed" / "xml" / "tipplerow__pubmed__pubmed-lib--data--test--pubmed_sample.xml"
    call_command("predict_evidence", str(path), "--text-only", "--json", "--models", str(models))
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(row["pmid"].isdigit() for row in rows)
    assert all(row["source"] == "predicted" and 0.0 <= row["probability"] <= 1.0 for row in rows)
    assert {row["level"] for row in rows} <= {level.value for level in EvidenceLevel}
    assert all(row["reason"] or abs(sum(row["probabilities"].values()) - 1.0) < 0.01 for row in rows)
