"""The design classifier's machinery: deterministic training, the artifact, predict_evidence."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from records.evidence.artifacts import current_version, load_current, save_artifact
from records.evidence.classifier import ArtifactError, DesignClassifier, artifact_version
from records.evidence.levels import EvidenceLevel
from records.evidence.training import Example, choose_threshold, split_of, train
from tests.records.design_corpus import corpus


@pytest.fixture(scope="module")
def trained():
    return train(corpus())


def test_same_data_gives_the_same_artifact_hash(trained):
    again = train(corpus())
    assert again.artifact == trained.artifact
    assert again.version == trained.version == artifact_version(trained.artifact)


def test_input_order_does_not_change_the_artifact(trained):
    assert train(list(reversed(corpus()))).version == trained.version


def test_different_data_gives_a_different_version(trained):
    assert train(corpus(seed=8)).version != trained.version


def test_publication_types_and_mesh_never_reach_the_model(trained):
    # Two copies of the same text that differ only in their indexing get the same prediction.
    model = trained.classifier
    text = corpus()[0]
    assert "randomized controlled trial" not in model.text_tfidf.vocabulary
    assert "humans" not in model.title_tfidf.vocabulary
    first = model.predict([text.title], [text.abstract])[0]
    assert first.level == EvidenceLevel.RCT
    assert 0.0 <= first.probability <= 1.0


def test_artifact_round_trip_predicts_the_same(trained):
    loaded = DesignClassifier.from_bytes(trained.artifact, version=trained.version)
    rows = corpus(seed=11)[:30]
    before = trained.classifier.predict([r.title for r in rows], [r.abstract for r in rows])
    after = loaded.predict([r.title for r in rows], [r.abstract for r in rows])
    assert [p.level for p in before] == [p.level for p in after]
    assert [round(p.probability, 9) for p in before] == [round(p.probability, 9) for p in after]


def test_metrics_report_model_and_baseline_per_class(trained):
    test = trained.metrics["test"]
    for name in ("rct", "systematic_review"):
        assert set(test["classes"][name]) >= {"precision", "recall", "f1", "roc_auc", "support"}
        assert name in trained.metrics["test_keyword_baseline"]["classes"]
    assert sum(sum(row.values()) for row in test["confusion"].values()) == test["records"]


def test_records_never_move_between_splits():
    assert {split_of(str(p)) for p in range(1000)} == {"train", "dev", "test"}
    assert all(split_of(str(p)) == split_of(str(p)) for p in range(100))


def test_too_little_data_is_a_clear_error():
    with pytest.raises(ValueError, match="too few labelled records"):
        train(corpus()[:9])


def test_unindexed_and_notice_records_do_not_train():
    rows = corpus()
    unindexed = Example("1", "t", "a", ("Journal Article",), (), "Publisher")
    notice = Example("2", "t", "a", ("Retraction of Publication",), ("Humans",), "MEDLINE")
    assert not unindexed.indexed
    assert notice.label is None
    assert train([*rows, unindexed, notice]).version == train(rows).version


def test_threshold_is_the_lowest_that_reaches_the_precision():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.3])
    truth = np.array([True, True, False, True, False])
    assert choose_threshold(scores, truth, min_precision=1.0) == 0.71
    assert choose_threshold(scores, truth, min_precision=0.7) == 0.31


def test_saved_artifact_becomes_current_and_loads(trained, tmp_path):
    folder = save_artifact(artifact=trained.artifact, metrics=trained.metrics, models_dir=tmp_path)
    assert current_version(tmp_path) == trained.version == folder.name
    assert json.loads((folder / "metrics.json").read_text())["model_version"] == trained.version
    assert load_current(tmp_path).version == trained.version


def test_edited_artifact_is_refused(trained, tmp_path):
    folder = save_artifact(artifact=trained.artifact, metrics=trained.metrics, models_dir=tmp_path)
    (folder / "model.json").write_bytes(trained.artifact.replace(b'"thresholds"', b'"thresholds" ', 1))
    with pytest.raises(ArtifactError, match="does not match its version"):
        load_current(tmp_path)


def test_garbage_artifact_is_a_clear_error():
    with pytest.raises(ArtifactError):
        DesignClassifier.from_bytes(b"not json")
    with pytest.raises(ArtifactError, match="not a design classifier"):
        DesignClassifier.from_bytes(b'{"format": "other"}')


def test_artifact_of_the_previous_format_is_refused_with_a_retrain_message(trained):
    old = trained.artifact.replace(
        b'"format":"evidence-design-classifier/2"', b'"format":"evidence-design-classifier/1"'
    )
    assert old != trained.artifact
    with pytest.raises(ArtifactError, match="retrain it"):
        DesignClassifier.from_bytes(old)


def test_model_is_fitted_on_train_and_dev_with_cross_fitting(trained):
    counts = trained.metrics["counts"]
    info = trained.classifier.info
    assert info["trained_on"] == sum(counts["train"].values()) + sum(counts["dev"].values())
    assert info["folds"] == 5


def test_predict_evidence_without_a_model_says_how_to_train(tmp_path):
    xml = tmp_path / "one.xml"
    xml.write_text(PUBMED_XML)
    with pytest.raises(CommandError, match="train_design_classifier"):
        call_command("predict_evidence", str(xml), "--text-only", "--json", "--models", str(tmp_path / "none"))


def test_predict_evidence_ignores_publication_types_with_text_only(trained, tmp_path, capsys):
    save_artifact(artifact=trained.artifact, metrics=trained.metrics, models_dir=tmp_path / "m")
    xml = tmp_path / "one.xml"
    xml.write_text(PUBMED_XML)
    call_command("predict_evidence", str(xml), "--text-only", "--json", "--models", str(tmp_path / "m"))
    rows = json.loads(capsys.readouterr().out)
    assert [row["pmid"] for row in rows] == ["111", "222"]
    # The file types 111 a Meta-Analysis; its text reads as a trial, and text is all that counts.
    assert rows[0]["level"] == "rct"
    assert rows[0]["source"] == "predicted"
    assert 0.5 <= rows[0]["probability"] <= 1.0
    assert rows[1]["level"] == "systematic_review"

    call_command("predict_evidence", str(xml), "--json", "--models", str(tmp_path / "m"))
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["level"] == "systematic_review"
    assert rows[0]["source"] == "indexed"


def test_predict_evidence_rejects_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        call_command("predict_evidence", str(tmp_path / "absent.xml"), "--text-only")


def test_train_command_rejects_a_missing_path(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("train_design_classifier", "--pubmed", str(tmp_path / "absent"), "--output", str(tmp_path))


def test_train_command_with_too_few_records_is_a_clear_error(tmp_path):
    xml = tmp_path / "one.xml"
    xml.write_text(PUBMED_XML)
    with pytest.raises(CommandError, match="too few labelled records"):
        call_command("train_design_classifier", "--pubmed", str(xml), "--output", str(tmp_path / "m"))
    assert current_version(tmp_path / "m") is None


PUBMED_XML = """<?xml version="1.0" encoding="utf-8"?>
<PubmedArticleSet>
<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">111</PMID>
<Article><Journal><Title>J</Title></Journal>
<ArticleTitle>A randomised trial of a new drug for asthma</ArticleTitle>
<Abstract><AbstractText>Patients were randomised to placebo or drug, double-blind, allocated by computer;
trial registration NCT01234567.</AbstractText></Abstract>
<PublicationTypeList><PublicationType UI="D017418">Meta-Analysis</PublicationType></PublicationTypeList>
</Article>
<MeshHeadingList><MeshHeading><DescriptorName UI="D006801">Humans</DescriptorName></MeshHeading></MeshHeadingList>
</MedlineCitation></PubmedArticle>
<PubmedArticle><MedlineCitation Status="Publisher" Owner="NLM"><PMID Version="1">222</PMID>
<Article><Journal><Title>J</Title></Journal>
<ArticleTitle>Treatments for migraine: a systematic review and meta-analysis</ArticleTitle>
<Abstract><AbstractText>We searched PubMed and Embase; 12 included studies were pooled.</AbstractText></Abstract>
<PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType></PublicationTypeList>
</Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""


def test_train_command_if_missing_keeps_the_current_model(trained, tmp_path):
    save_artifact(artifact=trained.artifact, metrics=trained.metrics, models_dir=tmp_path)
    out = StringIO()
    call_command("train_design_classifier", "--if-missing", "--output", str(tmp_path), stdout=out)
    assert f"{trained.version} exists" in out.getvalue()
    assert current_version(tmp_path) == trained.version


def test_train_command_enqueue_refuses_files(tmp_path):
    with pytest.raises(CommandError, match="--enqueue trains from the database"):
        call_command("train_design_classifier", "--enqueue", "--pubmed", str(tmp_path))
