"""How well the guideline readers and the recommendation splitter find and rate recommendations.

Reads every document of the labelled set (bench/data/guideline_labels.json: paths relative to
the shared data folder, each recommendation's number, first words, strength, certainty and
direction) through the same entry point the portal uses (``read_guideline_paths``), then
prints per issuer, per subset and overall:

* precision and recall of recommendations found (a found recommendation matches a labelled
  one when its text starts with the labelled first words; one to one, in order);
* accuracy of the normalised strength, certainty and direction over matched recommendations.

The "unseen" subset holds documents that were labelled after the rules were written and never
looked at while writing them.

    .venv/bin/python bench/guideline_splitter.py [--data ../shared/data] [--show-misses]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED_DATA, setup_django

setup_django()

from ingest.guidelines.files import read_guideline_paths  # noqa: E402
from ingest.guidelines.types import ParsedGuideline, ParsedRecommendation  # noqa: E402

LABELS = Path(__file__).resolve().parent / "data" / "guideline_labels.json"


def norm(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"^[\s•\-*\d.)]+", "", text)
    return re.sub(r"[^a-z0-9äöüß']+", " ", text).strip()


def match(gold: list[dict], found: list[ParsedRecommendation]) -> list[tuple[dict, ParsedRecommendation]]:
    pairs = []
    used: set[int] = set()
    for g in gold:
        prefix = norm(g["prefix"])
        for index, rec in enumerate(found):
            if index not in used and norm(rec.text).startswith(prefix):
                pairs.append((g, rec))
                used.add(index)
                break
    return pairs


def select(guidelines: list[ParsedGuideline], selector: str) -> ParsedGuideline | None:
    for g in guidelines:
        if selector in (g.source_id, g.title) or (selector and selector in g.source_id):
            return g
    return guidelines[0] if len(guidelines) == 1 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--show-misses", action="store_true", help="print unmatched and mis-rated items")
    args = parser.parse_args()
    labels = json.loads(args.labels.read_text())
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for doc in labels["documents"]:
        paths = [args.data / p for p in doc.get("paths") or [doc["path"]]]
        items = list(read_guideline_paths(paths))
        guidelines = [i for i in items if isinstance(i, ParsedGuideline)]
        guideline = select(guidelines, doc.get("select", ""))
        found = list(guideline.recommendations) if guideline else []
        gold = doc["recommendations"]
        pairs = match(gold, found)
        keys = ["all", f"issuer: {doc['issuer']}", f"subset: {doc['subset']}"]
        if doc["subset"] == "unseen":
            keys.append(f"unseen, issuer: {doc['issuer']}")
        for key in keys:
            t = totals[key]
            t["docs"] += 1
            t["gold"] += len(gold)
            t["found"] += len(found)
            t["matched"] += len(pairs)
            for g, rec in pairs:
                t["strength_ok"] += g["strength"] == rec.strength
                t["certainty_ok"] += g["certainty"] == rec.certainty
                t["direction_ok"] += g["direction"] == rec.direction
        if args.show_misses:
            matched_found = {id(r) for _, r in pairs}
            matched_gold = {id(g) for g, _ in pairs}
            for g in gold:
                if id(g) not in matched_gold:
                    print(f"MISSED  {doc['path']}: [{g['number']}] {g['prefix']}")
            for rec in found:
                if id(rec) not in matched_found:
                    print(f"EXTRA   {doc['path']}: [{rec.number}] {rec.text[:90]!r}")
            for g, rec in pairs:
                got = (rec.strength, rec.certainty, rec.direction)
                want = (g["strength"], g["certainty"], g["direction"])
                if got != want:
                    print(f"RATING  {doc['path']}: [{g['number']}] want {want} got {got} ({rec.strength_wording!r})")
    header = (
        f"{'group':<52} {'docs':>4} {'gold':>5} {'found':>5} {'prec':>6} {'recall':>6} "
        f"{'strength':>8} {'certainty':>9} {'direction':>9}"
    )
    print(header)
    print("-" * len(header))
    subsets = sorted(k for k in totals if k.startswith("subset"))
    issuers = sorted(k for k in totals if k.startswith("issuer"))
    order = ["all", *subsets, *issuers, *sorted(k for k in totals if k.startswith("unseen,"))]
    for key in order:
        t = totals[key]
        matched = t["matched"] or 1
        print(
            f"{key:<52} {t['docs']:>4} {t['gold']:>5} {t['found']:>5} "
            f"{t['matched'] / max(1, t['found']):>6.3f} {t['matched'] / max(1, t['gold']):>6.3f} "
            f"{t['strength_ok'] / matched:>8.3f} {t['certainty_ok'] / matched:>9.3f} "
            f"{t['direction_ok'] / matched:>9.3f}"
        )


if __name__ == "__main__":
    main()
