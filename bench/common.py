"""Helpers shared by the benchmark scripts: Django set-up, SciFact loading, percentiles."""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import sys
from collections.abc import Iterator
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


# --- replicated PubMed files (bench/ingest.py, bench/production.py) ------------------------------

HEAD = b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n'
TAIL = b"</PubmedArticleSet>\n"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- corpus files ----------------------------------------------------------------------------


def xml_articles(data: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (pmid, PubmedArticle bytes) of every XML record under data/pubmed/xml."""
    import xml.etree.ElementTree as ET

    for path in sorted((data / "pubmed" / "xml").iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as stream:
            depth = 0
            try:
                for event, element in ET.iterparse(stream, events=("start", "end")):
                    if event == "start":
                        depth += element.tag in ("PubmedArticle", "MedlineCitation")
                        continue
                    wanted = element.tag == "PubmedArticle" or (element.tag == "MedlineCitation" and depth == 1)
                    if wanted:
                        if element.tag == "MedlineCitation":
                            wrapper = ET.Element("PubmedArticle")
                            wrapper.append(element)
                            element = wrapper
                        pmid = (element.findtext("MedlineCitation/PMID") or "").strip()
                        if pmid:
                            yield pmid, ET.tostring(element, encoding="utf-8")
                        element.clear()
                    if element.tag in ("PubmedArticle", "MedlineCitation"):
                        depth -= 1
            except ET.ParseError:
                continue


def write_scale_file(data: Path, path: Path, count: int) -> int:
    """Write ``count`` real XML records, cycled under new PMIDs, to a gzipped PubMed file."""
    base = list(dict(xml_articles(data)).items())
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(HEAD)
        for index in range(count):
            pmid, body = base[index % len(base)]
            new = str(70_000_000 + index).encode()
            body = re.sub(
                rb"(<PMID[^>]*>)\s*" + pmid.encode() + rb"\s*(</PMID>)", rb"\g<1>" + new + rb"\g<2>", body, count=1
            )
            out.write(body + b"\n")
        out.write(TAIL)
    return count
