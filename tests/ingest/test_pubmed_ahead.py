"""Parsing in a child process: the same items in the same order, and no child left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.pubmed import ahead, iter_pubmed_file
from ingest.pubmed.ahead import iter_pubmed_file_ahead

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pubmed"


@pytest.fixture
def always_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ahead, "MIN_BYTES", 0)  # fixtures are small: parse them in a child too
    monkeypatch.setattr(ahead, "CHUNK", 2)  # several chunks per file


def children() -> set[int]:
    path = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    return set(map(int, path.read_text().split())) if path.exists() else set()


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_child_yields_what_the_parser_yields_in_order(always_ahead: None, name: str) -> None:
    expected = list(iter_pubmed_file(FIXTURES / name))
    assert list(iter_pubmed_file_ahead(FIXTURES / name)) == expected
    assert list(iter_pubmed_file_ahead(FIXTURES / name, skip=3)) == expected[3:]


def test_bad_and_missing_files_are_reported_as_in_process(always_ahead: None, tmp_path: Path) -> None:
    cut = tmp_path / "cut.xml"
    cut.write_bytes((FIXTURES / "efetch_fields.xml").read_bytes()[:3000])
    assert list(iter_pubmed_file_ahead(cut)) == list(iter_pubmed_file(cut))
    assert list(iter_pubmed_file_ahead(tmp_path / "gone.xml")) == list(iter_pubmed_file(tmp_path / "gone.xml"))


def test_stopping_early_ends_the_child(always_ahead: None) -> None:
    before = children()
    stream = iter_pubmed_file_ahead(FIXTURES / "efetch_fields.xml")
    next(stream)
    assert children() - before, "a child is parsing"
    stream.close()
    assert children() == before
