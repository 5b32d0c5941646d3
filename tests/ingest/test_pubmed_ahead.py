"""Parsing in a child process: the same items in the same order, and no child left behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pubmed import ahead, iter_pubmed_file
from ingest.pubmed.ahead import FilesAhead, iter_pubmed_file_ahead
from records.types import ParsedItem

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


def test_planned_files_come_from_one_child_in_order(always_ahead: None) -> None:
    names = sorted(p.name for p in FIXTURES.iterdir())
    before = children()
    with FilesAhead([(FIXTURES / name, 0) for name in names]) as files:
        assert len(children() - before) == 1, "one child parses every planned file"
        for name in names:
            assert list(files.items(FIXTURES / name)) == list(iter_pubmed_file(FIXTURES / name)), name
    assert children() == before


def test_files_left_half_read_or_not_asked_for_are_dropped(always_ahead: None) -> None:
    first, second, third = (
        FIXTURES / "efetch_fields.xml",
        FIXTURES / "baseline_citationset.xml",
        FIXTURES / "medline_fields.txt",
    )
    with FilesAhead([(first, 0), (second, 0), (third, 2)]) as files:
        half_read = files.items(first)
        next(half_read)
        half_read.close()
        # The second file is never asked for: its items are skipped to reach the third.
        assert list(files.items(third, 2)) == list(iter_pubmed_file(third))[2:]


def test_a_file_not_planned_next_is_parsed_here(always_ahead: None) -> None:
    first, second = FIXTURES / "efetch_fields.xml", FIXTURES / "baseline_citationset.xml"
    with FilesAhead([(first, 0), (second, 0)]) as files:
        assert list(files.items(second)) == list(iter_pubmed_file(second))
        # Planned before the one already read, and read with another skip: both in-process.
        assert list(files.items(first)) == list(iter_pubmed_file(first))
        assert list(files.items(second, 1)) == list(iter_pubmed_file(second))[1:]


def test_a_parser_that_dies_fails_its_file_and_later_files_are_parsed_here(
    always_ahead: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = (
        FIXTURES / "efetch_fields.xml",
        FIXTURES / "concatenated.xml",
        FIXTURES / "medline_fields.txt",
    )

    def parse_or_die(path: Path | str) -> Iterator[ParsedItem]:
        if Path(path) == second:
            os._exit(9)  # the child dies as if killed while parsing this file
        yield from iter_pubmed_file(path)

    monkeypatch.setattr(ahead, "iter_pubmed_file", parse_or_die)  # in the child (forked after this)
    before = children()  # other tests' servers and workers may be children of this process too
    with FilesAhead([(first, 0), (second, 0), (third, 0)]) as files:
        assert list(files.items(first)) == list(iter_pubmed_file(first))
        with pytest.raises(OSError, match="parser process ended before the end of the file"):
            list(files.items(second))
        assert children() == before, "the dead child was reaped"
        monkeypatch.undo()
        assert list(files.items(third)) == list(iter_pubmed_file(third))
