"""Reading PubMed files from disk: format and compression detected by content, bad files reported,
memory flat however large the file."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pubmed import detect_format, iter_input_paths, iter_pubmed_file
from records.types import DeletedCitation, ParsedRecord, ParseProblem

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "pubmed"


def kinds(items: list) -> list[str]:
    return [type(item).__name__ for item in items]


def test_gzipped_xml_and_medline_without_extensions_are_detected(tmp_path: Path) -> None:
    xml_gz = tmp_path / "export"  # no extension at all, gzipped XML
    xml_gz.write_bytes(gzip.compress((FIXTURES / "efetch_fields.xml").read_bytes()))
    medline = tmp_path / "Ecuador shrimp"
    medline.write_bytes((FIXTURES / "medline_fields.txt").read_bytes())
    nbib_gz = tmp_path / "citations.nbib.gz"
    nbib_gz.write_bytes(gzip.compress((FIXTURES / "medline_fields.txt").read_bytes()))
    assert len([i for i in iter_pubmed_file(xml_gz) if isinstance(i, ParsedRecord)]) == 5
    assert len([i for i in iter_pubmed_file(medline) if isinstance(i, ParsedRecord)]) == 3
    assert len([i for i in iter_pubmed_file(str(nbib_gz)) if isinstance(i, ParsedRecord)]) == 3


def test_detect_format() -> None:
    assert detect_format(b"\xef\xbb\xbf<?xml version='1.0'?>") == "xml"
    assert detect_format(b"\r\nPMID- 1\r\nTI  - x") == "medline"
    assert detect_format(b"  \n\t") == "empty"
    assert detect_format(b"%PDF-1.4 binary") == "unknown"


def test_truncated_gz_yields_the_records_before_the_break_then_a_problem(tmp_path: Path) -> None:
    body = (FIXTURES / "efetch_fields.xml").read_bytes()
    # Many copies so the cut lands well after the first records.
    many = (
        body.replace(b"</PubmedArticleSet>", b"")
        + b"".join(
            body.split(b"<PubmedArticleSet>")[1]
            .replace(b"</PubmedArticleSet>", b"")
            .replace(b"9000000", f"8{n:05d}".encode())
            for n in range(200)
        )
        + b"</PubmedArticleSet>"
    )
    compressed = gzip.compress(many)
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(compressed[: len(compressed) // 2])
    items = list(iter_pubmed_file(cut))
    records = [item for item in items if isinstance(item, ParsedRecord)]
    assert records, "the records before the break are kept"
    assert isinstance(items[-1], ParseProblem)
    assert items[-1].location == str(cut) and "truncated" in items[-1].reason
    # Everything yielded before the problem is a complete record (the one cut is dropped).
    assert all(record.title for record in records)


def test_truncated_medline_gz_keeps_complete_records_only(tmp_path: Path) -> None:
    text = (FIXTURES / "medline_fields.txt").read_bytes() * 300
    compressed = gzip.compress(text)
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(compressed[: len(compressed) * 2 // 3])
    items = list(iter_pubmed_file(cut))
    assert isinstance(items[-1], ParseProblem) and "truncated" in items[-1].reason
    assert len(items) > 2 and all(isinstance(item, ParsedRecord) for item in items[:-1])


def test_file_that_is_not_xml_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "photo.xml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (problem,) = iter_pubmed_file(path)
    assert isinstance(problem, ParseProblem)
    assert problem.location == str(path) and "not PubMed XML or MEDLINE text" in problem.reason


def test_empty_file_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    (problem,) = iter_pubmed_file(path)
    assert isinstance(problem, ParseProblem) and problem.reason == "file is empty"
    gz = tmp_path / "empty.txt.gz"
    gz.write_bytes(gzip.compress(b""))
    (problem,) = iter_pubmed_file(gz)
    assert isinstance(problem, ParseProblem) and problem.reason == "file is empty"


def test_missing_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    (problem,) = iter_pubmed_file(tmp_path / "nope.xml")
    assert isinstance(problem, ParseProblem) and problem.reason == "no such file"


def test_folders_are_expanded_sorted_and_hidden_files_left_out(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.xml").write_text("x")
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / ".DS_Store").write_text("x")
    single = tmp_path / "single.xml"
    single.write_text("x")
    found = list(iter_input_paths([tmp_path, single]))
    assert found == [tmp_path / "a.txt", tmp_path / "b" / "2.xml", single, single]


def test_delete_citations_come_in_file_order() -> None:
    items = list(iter_pubmed_file(FIXTURES / "baseline_citationset.xml"))
    assert kinds(items) == ["ParsedRecord", "ParsedRecord", "DeletedCitation", "DeletedCitation"]
    assert isinstance(items[2], DeletedCitation)


def _replicated(path: Path, copies: int) -> None:
    """Write a gzipped PubmedArticleSet of ``copies`` copies of the fixture's first article."""
    body = (FIXTURES / "efetch_fields.xml").read_bytes()
    article = body[body.index(b"<PubmedArticle>") : body.index(b"</PubmedArticle>") + len(b"</PubmedArticle>")]
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b'<?xml version="1.0"?>\n<PubmedArticleSet>\n')
        for number in range(copies):
            out.write(article.replace(b">90000001<", f">{10_000_000 + number}<".encode(), 1))
        out.write(b"</PubmedArticleSet>\n")


_MEASURE = """
import resource, sys, tracemalloc
from pathlib import Path
from ingest.pubmed import iter_pubmed_file
from records.types import ParsedRecord
tracemalloc.start()
count = sum(isinstance(item, ParsedRecord) for item in iter_pubmed_file(Path(sys.argv[1])))
print(count, tracemalloc.get_traced_memory()[1], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _peaks_while_parsing(path: Path) -> tuple[int, int, int]:
    """Parse ``path`` in a fresh interpreter; return (records, tracemalloc peak, max RSS) in bytes.

    RSS as well as tracemalloc: libxml2 allocates the tree outside Python's allocator.
    """
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    count, traced, rss = (int(value) for value in done.stdout.split())
    return count, traced, rss


@pytest.mark.slow
def test_memory_stays_flat_when_the_file_grows_tenfold(tmp_path: Path) -> None:
    small, large = tmp_path / "small.xml.gz", tmp_path / "large.xml.gz"
    _replicated(small, 300)
    _replicated(large, 3000)
    small_count, small_traced, small_rss = _peaks_while_parsing(small)
    large_count, large_traced, large_rss = _peaks_while_parsing(large)
    assert (small_count, large_count) == (300, 3000)
    # Ten times the records: a parser that kept what it read would need several times the memory.
    assert large_traced < small_traced * 1.5 + 256 * 1024, (small_traced, large_traced)
    assert large_rss < small_rss + 8 * 1024 * 1024, (small_rss, large_rss)


def test_medline_lines_split_only_at_newlines_and_latin1_lines_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "odd.txt"
    text = "PMID- 1\r\nTI  - A title with\u2028odd\x0cbreaks and a\r\n      continuation.\r\n\r\n"
    path.write_bytes(text.encode("utf-8") + "PMID- 2\nTI  - Caf\xe9 au lait\n".encode("latin-1"))
    first, second = iter_pubmed_file(path)
    assert isinstance(first, ParsedRecord) and first.title.endswith("breaks and a continuation.")
    assert isinstance(second, ParsedRecord) and second.title == "Café au lait"


@pytest.mark.parametrize("where", ["deflate data", "checksum"])
def test_gz_with_corrupt_data_yields_the_records_before_then_a_problem(tmp_path: Path, where: str) -> None:
    body = (FIXTURES / "efetch_fields.xml").read_bytes()
    inner = body.split(b"<PubmedArticleSet>")[1].replace(b"</PubmedArticleSet>", b"")
    copies = [inner.replace(b"9000000", f"8{n:05d}".encode()) for n in range(200)]
    # Two gzip members (as ``cat a.gz b.gz`` makes): the second one is broken.
    first = gzip.compress(b"<PubmedArticleSet>" + b"".join(copies[:100]))
    second = bytearray(gzip.compress(b"".join(copies[100:]) + b"</PubmedArticleSet>"))
    if where == "deflate data":
        second[10] ^= 0xFF  # the first block header: the decompressor fails on the data itself
    else:
        second[-8] ^= 0xFF  # the CRC-32 at the end of the member
    broken = tmp_path / "broken.xml.gz"
    broken.write_bytes(first + bytes(second))
    items = list(iter_pubmed_file(broken))
    assert isinstance(items[-1], ParseProblem) and items[-1].location == str(broken)
    assert "truncated or unreadable" in items[-1].reason
    records = items[:-1]
    assert len(records) >= 400 and all(isinstance(item, ParsedRecord) and item.title for item in records)
