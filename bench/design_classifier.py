"""Grading speed: rule grading and the design classifier, beside the keyword rule in the same run.

Reads PubMed files (default ../shared/data/pubmed), grades every record with the precedence
rules, and predicts the design of every record (every rung, from title, abstract, journal and
abstract structure) with the current classifier (or one in --models), in batches of 500 as
``records_grade`` does, with and without the top cues. Reports records/s (median of --repeats
runs) and ratios against the keyword rule ("systematic review|meta-analy", "randomi[sz]ed")
timed on the same texts. One core: numerical libraries are held to one thread. Quality figures
come from ``manage.py train_design_classifier`` (docs/evidence-levels.md).

    .venv/bin/python bench/design_classifier.py [--pubmed PATH] [--models DIR] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one core, as the target asks (set before numpy loads)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import REPO, setup_django  # noqa: E402

setup_django()

from records.evidence.predict import NoModelError, require_model  # noqa: E402
from records.evidence.rules import grade_by_rules  # noqa: E402
from records.evidence.training import KEYWORD_BASELINE, examples_from_files  # noqa: E402


def _median_rate(count: int, run, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return count / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pubmed", type=Path, default=REPO.parent / "shared" / "data" / "pubmed")
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        model = require_model(args.models)
    except NoModelError as error:
        print(error, file=sys.stderr)
        return 2
    examples = list(examples_from_files([args.pubmed]))
    inputs = [e.input for e in examples]
    texts = [f"{e.title}\n{e.abstract}".lower() for e in examples]
    patterns = list(KEYWORD_BASELINE.values())

    def keywords() -> None:
        for text in texts:
            any(p.search(text) for p in patterns)

    def rules() -> None:
        for e in examples:
            grade_by_rules(publication_types=e.publication_types, mesh_descriptors=e.mesh_descriptors)

    def classifier() -> None:
        for start in range(0, len(inputs), 500):
            model.predict(inputs[start : start + 500])

    def classifier_explained() -> None:
        for start in range(0, len(inputs), 500):
            model.predict(inputs[start : start + 500], explain=True)

    rates = {
        "keyword rule (baseline)": _median_rate(len(texts), keywords, args.repeats),
        "grade_by_rules": _median_rate(len(examples), rules, args.repeats),
        "design classifier": _median_rate(len(examples), classifier, args.repeats),
        "classifier + top cues": _median_rate(len(examples), classifier_explained, args.repeats),
    }
    base = rates["keyword rule (baseline)"]
    rows = [{"step": k, "records_per_s": round(v), "vs_keyword_rule": round(v / base, 3)} for k, v in rates.items()]
    if args.json:
        print(json.dumps({"records": len(examples), "model": model.version, "rows": rows}, indent=2))
        return 0
    print(f"{len(examples)} records, model {model.version}, median of {args.repeats}")
    print(f"{'step':<26}{'records/s':>12}{'x keyword rule':>16}")
    for row in rows:
        print(f"{row['step']:<26}{row['records_per_s']:>12}{row['vs_keyword_rule']:>16}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
