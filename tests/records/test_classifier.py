"""The design classifier's machinery: deterministic training, the artifact, predict_evidence."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from records.evidence.artifacts import current_version, load_current, save_artifact
from records.evidence.classifier import (
    MAX_ABSTRACT_CHARS,
    REASON_NO_TEXT,
    REASON_NOT_ENGLISH,
    REASON_NOTICE,
    ArtifactError,
    DesignClassifier,
    DesignInput,
    _Tfidf,
    artifact_version,
    fit_tfidf,
)
from records.evidence.levels import EvidenceLevel, expected_strength, level_strength
from records.evidence.training import (
    Example,
    choose_coverage_threshold,
    choose_temperature,
    expected_calibration_error,
    split_of,
    train,
)
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
    first = model.predict([text.input])[0]
    assert first.level == EvidenceLevel.RCT
    assert 0.0 <= first.probability <= 1.0
    assert set(first.probabilities) == {"rct", "systematic_review", "cohort"}
    assert sum(first.probabilities.values()) == pytest.approx(1.0)


def test_artifact_round_trip_predicts_the_same(trained):
    loaded = DesignClassifier.from_bytes(trained.artifact, version=trained.version)
    rows = corpus(seed=11)[:30]
    before = trained.classifier.predict([r.input for r in rows])
    after = loaded.predict([r.input for r in rows])
    assert [p.level for p in before] == [p.level for p in after]
    assert [round(p.probability, 9) for p in before] == [round(p.probability, 9) for p in after]


def test_metrics_report_model_and_baseline_per_class(trained):
    test = trained.metrics["test"]
    for name in ("rct", "systematic_review"):
        assert set(test["classes"][name]) >= {"precision", "recall", "f1", "roc_auc", "support"}
        assert name in trained.metrics["test_keyword_baseline"]["classes"]
    assert set(test["classes"]) == {level.value for level in EvidenceLevel} - {"unknown"}
    assert test["classes"]["cohort"]["support"] > 0
    assert {"coverage", "accuracy_covered", "macro_f1", "expected_calibration_error", "reliability"} <= set(test)
    assert sum(sum(row.values()) for row in test["confusion"].values()) == test["records"]


def test_every_rung_gets_a_calibrated_probability(trained):
    model = trained.classifier
    assert model.classes == ("systematic_review", "rct", "cohort")
    assert 0.25 <= model.temperature <= 4.0
    assert 0.2 <= model.threshold <= 0.95
    rows = corpus(seed=12)[:60]
    probabilities = model.probabilities([r.input for r in rows])
    assert probabilities.shape == (60, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    cohort = next(r for r in rows if r.label == "cohort")
    assert model.predict([cohort.input])[0].level == EvidenceLevel.COHORT


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


def test_threshold_is_the_lowest_whose_covered_records_reach_the_accuracy():
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.55, 0.45]])
    truth = np.array([0, 0, 1, 0, 1])
    # Confidences 0.9, 0.8, 0.7, 0.6, 0.55; wrong at 0.6 and 0.55.
    assert choose_coverage_threshold(probabilities, truth, min_accuracy=1.0) == 0.61
    assert choose_coverage_threshold(probabilities, truth, min_accuracy=0.75) == 0.56


def test_temperature_softens_overconfident_scores():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 600)
    scores = rng.normal(size=(600, 3))
    scores[np.arange(600), truth] += 1.0
    sharp = scores * 8  # far too confident for how often they are right
    temperature = choose_temperature(sharp, truth)
    assert temperature > 2.0
    from records.evidence.classifier import softmax

    assert expected_calibration_error(softmax(sharp, temperature), truth) < expected_calibration_error(
        softmax(sharp, 1.0), truth
    )


def test_expected_strength_lies_between_the_rungs():
    mixed = expected_strength({"rct": 0.6, "cohort": 0.4})
    assert level_strength("cohort") < mixed < level_strength("rct")
    assert mixed == pytest.approx(0.6 * level_strength("rct") + 0.4 * level_strength("cohort"))
    assert expected_strength({}) == 0.0


def test_fast_tfidf_counts_what_sklearn_counts():
    from sklearn.feature_extraction.text import CountVectorizer

    from records.evidence.classifier import WORD_REGEX

    texts = [f"{r.title}\n{r.abstract}".lower() for r in corpus(seed=5)[:80]]
    tfidf: _Tfidf = fit_tfidf(texts[:40], ngram_range=(1, 2), min_df=2, max_features=500)
    expected = CountVectorizer(vocabulary=tfidf.vocabulary, ngram_range=(1, 2), token_pattern=WORD_REGEX)
    assert abs(expected.transform(texts[40:]) - tfidf.counts(texts[40:])).sum() == 0


def test_an_empty_record_is_unknown_with_the_reason(trained):
    prediction = trained.classifier.predict([DesignInput(title="", abstract="  ")])[0]
    assert prediction.level == EvidenceLevel.UNKNOWN
    assert prediction.reason == REASON_NO_TEXT
    assert prediction.probabilities == {} and prediction.strength == 0.0


def test_a_title_only_record_is_predicted_from_its_title(trained):
    prediction = trained.classifier.predict(
        [DesignInput(title="Treatments for asthma: a systematic review and meta-analysis")], explain=True
    )[0]
    assert prediction.reason == ""
    assert prediction.title_only
    assert prediction.best_level == EvidenceLevel.SYSTEMATIC_REVIEW
    assert set(prediction.probabilities) == {"rct", "systematic_review", "cohort"}


def test_a_non_english_abstract_is_unknown_with_the_reason(trained):
    text = DesignInput(
        title="Ensayo aleatorizado de un nuevo fármaco para el asma",
        abstract="Los pacientes fueron asignados al azar a placebo o fármaco; doble ciego, con registro del ensayo.",
    )
    prediction = trained.classifier.predict([text])[0]
    assert prediction.level == EvidenceLevel.UNKNOWN
    assert prediction.reason == REASON_NOT_ENGLISH


def test_a_100_kb_abstract_is_read_up_to_its_limit(trained):
    rct = corpus()[0]
    huge = DesignInput(title=rct.title, abstract=rct.abstract + " The patients were seen in the clinic." * 2800)
    assert len(huge.abstract) > 100_000
    prediction = trained.classifier.predict([huge])[0]
    assert prediction.truncated
    assert prediction.level == EvidenceLevel.RCT
    assert len(huge.text) <= len(rct.title) + 1 + MAX_ABSTRACT_CHARS


@pytest.mark.parametrize(
    "title",
    [
        "Erratum: Outcomes of asthma in a regional cohort",
        "Correction to: A randomised trial of a new drug for asthma",
        "Retraction: Treatments for migraine: a systematic review",
        "Expression of concern re: a randomised trial",
    ],
)
def test_a_notice_is_unknown_with_the_reason(trained, title):
    prediction = trained.classifier.predict([DesignInput(title=title, abstract="The authors regret an error.")])[0]
    assert prediction.level == EvidenceLevel.UNKNOWN
    assert prediction.reason == REASON_NOTICE


def test_a_study_of_surgical_correction_is_not_a_notice(trained):
    prediction = trained.classifier.predict([DesignInput(title="Correction of hallux valgus in a cohort")])[0]
    assert prediction.reason == ""


def test_top_cues_name_the_features_that_drove_the_prediction(trained):
    rct = corpus()[0]
    prediction = trained.classifier.predict([rct.input], explain=True)[0]
    assert prediction.level == EvidenceLevel.RCT
    assert 1 <= len(prediction.cues) <= 5
    assert any("random" in cue or "placebo" in cue or "trial" in cue for cue in prediction.cues), prediction.cues


def test_saved_artifact_becomes_current_and_loads(trained, tmp_path):
    folder = save_artifact(artifact=trained.artifact, metrics=trained.metrics, models_dir=tmp_path)
    assert current_version(tmp_path) == trained.version == folder.name
    assert json.loads((folder / "metrics.json").read_text())["model_version"] == trained.version
    assert load_current(tmp_path).version == trained.version


def test_edited_artifact_is_refused(trained, tmp_path):
    folder = save_artifact(artifact=trained.artifact, metrics=trained.metrics, models_dir=tmp_path)
    (folder / "model.json").write_bytes(trained.artifact.replace(b'"threshold"', b'"threshold" ', 1))
    with pytest.raises(ArtifactError, match="does not match its version"):
        load_current(tmp_path)


def test_garbage_artifact_is_a_clear_error():
    with pytest.raises(ArtifactError):
        DesignClassifier.from_bytes(b"not json")
    with pytest.raises(ArtifactError, match="not a design classifier"):
        DesignClassifier.from_bytes(b'{"format": "other"}')


def test_artifact_of_the_previous_format_is_refused_with_a_retrain_message(trained):
    old = trained.artifact.replace(
        b'"format":"evidence-design-classifier/3"', b'"format":"evidence-design-classifier/2"'
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


def test_predict_evidence_reads_several_files_with_every_rungs_probability(trained, tmp_path, capsys):
    save_artifact(artifact=trained.artifact, metrics=trained.metrics, models_dir=tmp_path / "m")
    first, second = tmp_path / "one.xml", tmp_path / "two.xml"
    first.write_text(PUBMED_XML)
    second.write_text(PUBMED_XML.replace(">111<", ">333<").replace(">222<", ">444<"))
    call_command("predict_evidence", str(first), str(second), "--text-only", "--json", "--models", str(tmp_path / "m"))
    rows = json.loads(capsys.readouterr().out)
    assert [row["pmid"] for row in rows] == ["111", "222", "333", "444"]
    assert all(set(row["probabilities"]) == {"rct", "systematic_review", "cohort"} for row in rows)
    assert all(row["best_level"] == row["level"] and row["reason"] == "" and row["cues"] for row in rows)
    # A threshold above every probability makes every row unknown, with its probabilities kept.
    call_command(
        "predict_evidence", str(first), "--text-only", "--json", "--threshold", "1.0", "--models", str(tmp_path / "m")
    )
    rows = json.loads(capsys.readouterr().out)
    assert {row["level"] for row in rows} == {"unknown"} or all(row["probability"] == 1.0 for row in rows)
    assert all(row["probabilities"] for row in rows)


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
