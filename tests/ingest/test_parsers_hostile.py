"""Hostile input to the PubMed parsers: mutated real files never crash them, and the classic
attacks (billion laughs, deep nesting, a 100 MB line, a 100 MB text node) end in the documented
ParseProblem within bounded time and memory.

The parsers' contract (``iter_pubmed_file``): yield ParsedRecord / DeletedCitation, and one
ParseProblem for what cannot be read; never raise.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.pubmed import iter_pubmed_file
from records.types import DeletedCitation, ParsedRecord, ParseProblem
from tests.conftest import REPO_ROOT

SEEDS = (
    "xml/kalyansagi__pubmed-extractor__pubmed.xml",
    "xml/PathwayCommons__ncbiutils__tests--data--no_title_abstract.xml",
    "xml/tipplerow__pubmed__pubmed-lib--data--test--pubmed20n1203.xml.gz",
    "medline/biopython__biopython__Tests--Medline--pubmed_result3.txt",
    "medline/todoit__metamap__pubmed_result.txt",
)
PER_INPUT_SECONDS = 5.0


def _seed_bytes(shared_data: Path) -> list[bytes]:
    seeds = []
    for name in SEEDS:
        raw = (shared_data / "pubmed" / name).read_bytes()
        seeds.append(gzip.decompress(raw) if name.endswith(".gz") else raw)
    return seeds


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A real file with a few edits: cut, deleted, duplicated or inserted bytes, flipped bytes."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "delete", "duplicate", "insert", "flip"]))
        if kind == "cut":
            del data[at:]
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 2000))]
        elif kind == "insert":
            noise = draw(
                st.one_of(
                    st.binary(max_size=50),
                    st.sampled_from(
                        [
                            b"<",
                            b"</PubmedArticle>",
                            b"<![CDATA[",
                            b"&amp;",
                            b"&#0;",
                            b"&undefined;",
                            b"\x00",
                            b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
                            b"PMID- ",
                            b"\nAB  - ",
                            b"\xff\xfe",
                            b"\n\n",
                        ]
                    ),
                )
            )
            data[at:at] = noise
        elif data:
            index = min(at, len(data) - 1)
            data[index] ^= draw(st.integers(1, 255))
    return bytes(data)


def _parse_bytes(data: bytes) -> list[object]:
    with tempfile.NamedTemporaryFile(suffix=".pubmed") as handle:
        handle.write(data)
        handle.flush()
        return list(iter_pubmed_file(handle.name))


@pytest.mark.shared_data
def test_mutated_real_files_never_crash_the_parsers(shared_data: Path) -> None:
    seeds = _seed_bytes(shared_data)
    assert all(any(isinstance(item, ParsedRecord) for item in _parse_bytes(seed)) for seed in seeds)

    @given(data=mutated(seeds))
    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(data: bytes) -> None:
        started = time.monotonic()
        items = _parse_bytes(data)
        assert time.monotonic() - started < PER_INPUT_SECONDS
        assert all(isinstance(item, ParsedRecord | DeletedCitation | ParseProblem) for item in items)
        for item in items:
            if isinstance(item, ParsedRecord):
                assert item.source_id and item.title

    check()


@given(data=st.binary(max_size=3000))
@settings(max_examples=150, deadline=None, database=None)
def test_arbitrary_bytes_never_crash_the_parsers(data: bytes) -> None:
    items = _parse_bytes(data)
    assert all(isinstance(item, ParsedRecord | DeletedCitation | ParseProblem) for item in items)


def test_an_unknown_declared_encoding_is_a_parse_problem() -> None:
    # Found by the property test above: a mutated declaration (utf-8 -> tf-8) raised LookupError.
    items = _parse_bytes(b'<?xml version="1.0" encoding="tf-8"?><PubmedArticleSet></PubmedArticleSet>')
    assert len(items) == 1 and isinstance(items[0], ParseProblem)
    assert "encoding that does not exist" in items[0].reason


# Each attack runs in a child process, which reports its wall time and peak resident memory.
_ATTACK = textwrap.dedent(
    """
    import json, sys, time
    import django
    django.setup()
    from ingest.pubmed import iter_pubmed_file
    started = time.monotonic()
    items = list(iter_pubmed_file(sys.argv[1]))
    print(json.dumps({
        "seconds": time.monotonic() - started,
        # VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would count the forking pytest.
        "peak_mb": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024,
        "kinds": [type(item).__name__ for item in items],
        "reasons": [getattr(item, "reason", "") for item in items],
    }))
    """
)

_LAUGHS_ENTITIES = '<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
)
HUNDRED_MB = 100 * 1024 * 1024


def _write_attack(path: Path, kind: str) -> None:
    article = b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>"
    end = b"</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    with path.open("wb") as out:
        if kind == "billion laughs":
            out.write(f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [{_LAUGHS_ENTITIES}]>'.encode())
            out.write(article + b"&lol9;" + end)
        elif kind == "deep nesting":
            out.write(article + b"<i>" * 500_000 + b"x" + b"</i>" * 500_000 + end)
        elif kind == "100 MB text node":
            out.write(article + b"t</ArticleTitle><Abstract><AbstractText>")
            for _ in range(100):
                out.write(b"a" * (1024 * 1024))
            out.write(b"</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>")
        elif kind == "100 MB MEDLINE line":
            out.write(b"PMID- 1\nTI  - A title\nAB  - ")
            for _ in range(100):
                out.write(b"a" * (1024 * 1024))
            out.write(b"\n")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "reason", "max_mb"),
    [
        ("billion laughs", "malformed XML", 200),
        ("deep nesting", "Excessive depth", 200),
        ("100 MB text node", "more than 1,000,000", 600),
        ("100 MB MEDLINE line", "longer than 8 MiB", 200),
    ],
)
def test_attack_ends_in_a_parse_problem_in_bounded_time_and_memory(
    kind: str, reason: str, max_mb: int, tmp_path: Path
) -> None:
    path = tmp_path / "attack"
    _write_attack(path, kind)
    result = subprocess.run(
        [sys.executable, "-c", _ATTACK, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["kinds"] == ["ParseProblem"], report
    assert reason in report["reasons"][0], report
    assert report["seconds"] < 30, report
    assert report["peak_mb"] < max_mb, report
