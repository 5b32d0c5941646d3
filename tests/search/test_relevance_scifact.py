"""The relevance targets on SciFact (training split), through the real evaluation command.

The only heavy test of the search suite: it embeds the 5,183 SciFact abstracts once (cached on
disk under the data dir keyed by model and text hash, so a rerun in the same data dir is fast).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command


@pytest.mark.shared_data
@pytest.mark.slow
def test_hybrid_search_meets_the_scifact_targets(shared_data: Path) -> None:
    out = io.StringIO()
    call_command("evaluate_relevance", "--beir", str(shared_data / "scifact"), "--mode", "all", "--json", stdout=out)
    scores = json.loads(out.getvalue())
    hybrid, bm25, dense = scores["hybrid"], scores["bm25"], scores["dense"]
    assert hybrid["queries"] == 809
    assert hybrid["ndcg_at_10"] >= 0.74
    assert hybrid["ndcg_at_10"] > bm25["ndcg_at_10"]
    assert hybrid["ndcg_at_10"] > dense["ndcg_at_10"]
    assert hybrid["ndcg_at_10"] >= scores["peer_bm25s"]["ndcg_at_10"] + 0.03
    assert hybrid["recall_at_100"] >= 0.95
    assert abs(scores["hybrid_evidence_order"]["ndcg_at_10"] - hybrid["ndcg_at_10"]) <= 0.01


def test_evaluation_refuses_a_folder_that_is_not_beir(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"corpus\.jsonl"):
        call_command("evaluate_relevance", "--beir", str(tmp_path))


def test_evaluation_metrics_on_hand_made_runs() -> None:
    from search.evaluation import mrr_at, ndcg_at, recall_at

    judged = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "c"], judged) == pytest.approx(1.0)
    assert ndcg_at(["c", "a"], {"a": 1}) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert recall_at(["a", "x"], judged) == 0.5
    assert mrr_at(["x", "y", "b"], judged) == pytest.approx(1 / 3)
    assert mrr_at([], judged) == 0.0
