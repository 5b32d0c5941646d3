"""How the PubMed Clinical Queries filters select the shared PubMed records, against their design.

For every filter: how many records it matches and the designs (evidence levels from the
grading rules: publication types and MeSH, the records' indexed design) of those matches. For
the filters with a design they aim at (therapy -> RCT, systematic reviews -> systematic review,
etiology and prognosis -> cohort), the share of that design among the matches (precision) and
the share of that design's records the filter finds (recall).

    .venv/bin/python bench/clinical_queries.py [--data ../shared/data/pubmed]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SHARED_DATA, setup_django

setup_django()

from ingest.pubmed import ParsedRecord, iter_input_paths, iter_pubmed_file  # noqa: E402
from records.evidence.rules import grade_by_rules  # noqa: E402
from search import clinical_queries as cq  # noqa: E402

TARGETS = {
    "therapy_narrow": "rct",
    "therapy_broad": "rct",
    "systematic_review": "systematic_review",
    "etiology_narrow": "cohort",
    "etiology_broad": "cohort",
    "prognosis_narrow": "cohort",
    "prognosis_broad": "cohort",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "pubmed")
    args = parser.parse_args()
    levels: list[str] = []
    matched: list[list[str]] = []
    seen: set[str] = set()
    started = time.perf_counter()
    evaluate_s = 0.0
    for path in iter_input_paths([args.data]):
        for item in iter_pubmed_file(path):
            if not isinstance(item, ParsedRecord) or item.source_id in seen:
                continue
            seen.add(item.source_id)
            grade = grade_by_rules(
                publication_types=item.publication_types,
                mesh_descriptors=[h.descriptor for h in item.mesh_headings],
                publication_status=item.publication_status,
            )
            headings = [
                {"descriptor": h.descriptor, "qualifiers": [[q, m] for q, m in h.qualifiers]}
                for h in item.mesh_headings
            ]
            t0 = time.perf_counter()
            fields = cq.RecordFields.build(
                title=item.title,
                abstract=item.abstract,
                mesh_headings=headings,
                publication_types=item.publication_types,
                keywords=item.keywords,
                journal=item.journal_abbreviation,
            )
            matched.append(cq.matching_filters(fields))
            evaluate_s += time.perf_counter() - t0
            levels.append(grade.level.value)
    total = len(levels)
    by_level = Counter(levels)
    print(f"records: {total} distinct PMIDs from {args.data.name} ({time.perf_counter() - started:.1f} s to read)")
    print(f"filter evaluation: {evaluate_s / max(total, 1) * 1e6:.0f} us per record (all {len(cq.FILTERS)} filters)")
    print(f"designs: {dict(by_level.most_common())}")
    print()
    print(f"{'filter':28} {'matches':>8} {'share':>6}  target  precision  recall   top designs among matches")
    for key in cq.FILTERS:
        hits = [lvl for lvl, keys in zip(levels, matched, strict=True) if key in keys]
        designs = Counter(hits)
        target = TARGETS.get(key)
        if target:
            found = designs.get(target, 0)
            precision = f"{found / len(hits):.3f}" if hits else "  -  "
            recall = f"{found / by_level[target]:.3f}" if by_level[target] else "  -  "
            target_text = f"{target:>6}  {precision:>9}  {recall:>6}"
        else:
            target_text = f"{'-':>6}  {'':>9}  {'':>6}"
        top = ", ".join(f"{lvl} {n}" for lvl, n in designs.most_common(4))
        print(f"{key:28} {len(hits):8d} {len(hits) / max(total, 1):6.3f}  {target_text}   {top}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
