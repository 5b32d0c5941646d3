"""Helpers shared by the benchmark scripts: Django set-up, SciFact loading, percentiles."""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def setup_django() -> None:
    """Make the project importable and set Django up with throwaway bench settings."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evidence_portal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-0123456789-0123456789")
    import django

    django.setup()


def load_scifact(data: Path, limit: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Return the first ``limit`` (title, text) SciFact documents and every claim text."""
    docs = []
    with gzip.open(data / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            docs.append((item.get("title") or "", item.get("text") or ""))
            if len(docs) >= limit:
                break
    queries = [json.loads(line)["text"] for line in (data / "queries.jsonl").read_text().splitlines() if line.strip()]
    return docs, queries


def percentiles(samples: list[float]) -> dict[str, float]:
    """Return p50, p95 and p99 of the samples (NaN when there are none)."""
    if not samples:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    values = np.asarray(samples)
    return {name: float(np.percentile(values, q)) for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}
