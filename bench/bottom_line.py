"""The bottom line on labelled clinical questions: right, wrong or absent (English and Chinese).

``bench/data/clinical_questions.jsonl`` (written for this project): each line a question in
English and Chinese and what answers it over the shared data: ``answers`` lists acceptable
items, a guideline recommendation as ``{"guideline": "<guideline title>", "starts": "<first
words of the recommendation>"}`` (``starts`` may be omitted: any recommendation of that
guideline) or a PubMed review as ``{"pmid": "..."}``; an empty list means nothing in the data
answers it ("none").

The script loads ../shared/data/guidelines and ../shared/data/pubmed into a throwaway data
folder (SQLite + embedded index), grades and indexes them, then runs every question through
``search_records`` and scores the panel's first item (the recommendation, else the review):
right when it is acceptable, wrong when it is not (or the question is "none"), absent when
there is no panel. Targets: right >= 0.80 of answerable questions, wrong <= 0.05 of all.
``--sweep`` also scores other thresholds (coverage, similarity) on the same questions.

Vectors: by default the index has none (embedding 25,000 records takes too long on two busy
cores), so retrieval is BM25 and the similarity test is skipped; ``--vectors`` embeds them.

    .venv/bin/python bench/bottom_line.py [--vectors] [--sweep] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = Path(__file__).resolve().parent / "data"


def prepare(folder: Path, *, vectors: bool) -> None:
    """Load, grade and index the shared guidelines and PubMed records into ``folder``."""
    from django.core.management import call_command

    from bench.common import SHARED_DATA
    from guidelines.loading import load_guideline_paths
    from ingest.services import load_pubmed_paths
    from records.evidence.services import record_id_batches, records_grade
    from search.indexing import embed_pending, rebuild_index

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    counts = load_guideline_paths(paths=[SHARED_DATA / "guidelines"])
    print(f"guidelines: {counts.new} new records ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    pubmed = load_pubmed_paths(paths=[SHARED_DATA / "pubmed"])
    print(f"pubmed: {pubmed.new} new records ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    for ids in record_id_batches(batch_size=2000):
        records_grade(record_ids=ids)
    print(f"graded ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    report = rebuild_index()
    print(f"indexed {report.indexed} records ({time.perf_counter() - started:.0f} s)")
    if vectors:
        started = time.perf_counter()
        done = embed_pending(limit=10**7)
        print(f"embedded {done} records ({time.perf_counter() - started:.0f} s)")


def load_questions() -> list[dict]:
    lines = (DATA / "clinical_questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip() and not line.startswith("#")]


def acceptable(item: object, answers: list[dict]) -> bool:
    """Whether a panel item (search.bottom_line.PanelItem) is one of the question's answers."""
    from records.models import EvidenceRecord

    record = EvidenceRecord.objects.select_related("guideline").get(uid=item.uid)  # type: ignore[attr-defined]
    return answers_with(record, answers)


def answers_with(record: object, answers: list[dict]) -> bool:
    """Whether a record is one of the question's answers."""
    for answer in answers:
        if "pmid" in answer and record.pmid == answer["pmid"]:  # type: ignore[attr-defined]
            return True
        guideline = getattr(record, "guideline", None)
        if "guideline" in answer and guideline is not None:
            same_guideline = answer["guideline"].lower() in guideline.title.lower()
            text = " ".join((record.recommendation_text or "").split()).lower()  # type: ignore[attr-defined]
            if same_guideline and text.startswith(answer.get("starts", "").lower()):
                return True
    return False


def score(questions: list[dict], *, language: str, **thresholds: float) -> dict[str, object]:
    from search import bottom_line as bl
    from search.services import search_records
    from search.types import SearchRequest

    saved = (bl.MIN_COVERAGE, bl.MIN_SIMILARITY)
    bl.MIN_COVERAGE = thresholds.get("min_coverage", bl.MIN_COVERAGE)
    bl.MIN_SIMILARITY = thresholds.get("min_similarity", bl.MIN_SIMILARITY)
    outcome = {"right": 0, "wrong": 0, "absent": 0}
    answerable = sum(1 for q in questions if q["answers"])
    wrong_ids = []
    try:
        for question in questions:
            page = search_records(SearchRequest(text=question[language], page_size=10))
            panel = page.bottom_line
            item = panel.first if panel else None
            if item is None:
                outcome["absent"] += 1
            elif question["answers"] and acceptable(item, question["answers"]):
                outcome["right"] += 1
            else:
                outcome["wrong"] += 1
                wrong_ids.append(question["id"])
    finally:
        bl.MIN_COVERAGE, bl.MIN_SIMILARITY = saved
    return {
        **outcome,
        "right_of_answerable": outcome["right"] / max(answerable, 1),
        "wrong_of_all": outcome["wrong"] / max(len(questions), 1),
        "wrong_ids": wrong_ids,
    }


def cross_lingual(questions: list[dict]) -> None:
    """Print nDCG@10 (relevance order) of the English and the Chinese question, answerable ones."""
    import statistics

    from search.evaluation import ndcg_at
    from search.services import search_records
    from search.types import SearchRequest

    scores: dict[str, list[float]] = {"en": [], "zh": []}
    for question in questions:
        if not question["answers"]:
            continue
        for language in ("en", "zh"):
            page = search_records(SearchRequest(text=question[language], sort="relevance", page_size=10))
            ranked = [r.record.uid for r in page.results]
            judged = {r.record.uid: 1 for r in page.results if answers_with(r.record, question["answers"])}
            # Relevant records outside the top 10 count in the ideal ranking too (one at least).
            ideal = max(len(judged), 1)
            padded = {**judged, **{f"missing-{i}": 1 for i in range(ideal - len(judged))}}
            scores[language].append(ndcg_at(ranked, padded))
    english, chinese = statistics.fmean(scores["en"]), statistics.fmean(scores["zh"])
    print(
        f"cross-lingual, {len(scores['en'])} answerable questions: nDCG@10 English {english:.3f},"
        f" Chinese {chinese:.3f}, ratio {chinese / english:.3f} (target >= 0.8)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vectors", action="store_true", help="embed the records (slow) and use vectors")
    parser.add_argument("--sweep", action="store_true", help="also score other coverage thresholds")
    parser.add_argument("--keep", type=Path, help="data folder to reuse (prepared once, kept)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bottom-line-"))
    fresh = not (folder / "evidence.sqlite3").exists()
    os.environ["EVIDENCE_DATA_DIR"] = str(folder)
    from bench.common import setup_django

    setup_django()
    try:
        if fresh:
            prepare(folder, vectors=args.vectors)
        questions = load_questions()
        answerable = sum(1 for q in questions if q["answers"])
        print(f"{len(questions)} questions, {answerable} answerable, {len(questions) - answerable} 'none'")
        for language in ("en", "zh"):
            result = score(questions, language=language)
            print(
                f"{language}: right {result['right']} ({result['right_of_answerable']:.3f} of answerable),"
                f" wrong {result['wrong']} ({result['wrong_of_all']:.3f} of all), absent {result['absent']};"
                f" wrong: {result['wrong_ids']}"
            )
        cross_lingual(questions)
        if args.sweep:
            for coverage in (0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0):
                for language in ("en", "zh"):
                    result = score(questions, language=language, min_coverage=coverage)
                    print(
                        f"  {language}, min coverage {coverage:.2f}: right {result['right_of_answerable']:.3f},"
                        f" wrong {result['wrong_of_all']:.3f}, absent {result['absent']}"
                    )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
