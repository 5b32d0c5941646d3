"""A reader process sees what a writer process commits, without restarting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from search.backends.base import LexicalQuery, SearchFilters
from search.backends.embedded import EmbeddedBackend
from search.documents import IndexDocument
from tests.conftest import REPO_ROOT

WRITER = textwrap.dedent(
    """
    import sys
    from search.backends.embedded import EmbeddedBackend
    from search.documents import IndexDocument
    backend = EmbeddedBackend("writer", path=sys.argv[1])
    vector = tuple([1.0] + [0.0] * 383)
    backend.index_documents([IndexDocument(doc_id=sys.argv[2], title=sys.argv[3], content_hash=sys.argv[2],
                                           vector=vector, vector_model="m")])
    if len(sys.argv) > 4:
        backend.delete_documents([sys.argv[4]])
    """
)


def write_in_other_process(path: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-c", WRITER, str(path), *args], cwd=REPO_ROOT, check=True, timeout=120)


def found(backend: EmbeddedBackend, word: str) -> list[str]:
    return [h.doc_id for h in backend.lexical_search(LexicalQuery(terms=(word,)), filters=SearchFilters(), limit=10)]


def test_reader_sees_commits_of_a_writer_process(tmp_path: Path) -> None:
    path = tmp_path / "index"
    reader = EmbeddedBackend("reader", path=str(path))
    assert found(reader, "gout") == []
    write_in_other_process(path, "w:1", "Colchicine for gout")
    assert found(reader, "gout") == ["w:1"]
    assert [h.doc_id for h in reader.vector_search([1.0] + [0.0] * 383, filters=SearchFilters(), limit=5)] == ["w:1"]
    # Enough new vectors to make the writer grow the memmapped matrix into a new file.
    writer = EmbeddedBackend("writer", path=str(path))
    writer.index_documents(
        IndexDocument(
            doc_id=f"g:{i}",
            title=f"Gout study {i}",
            content_hash=str(i),
            vector=tuple([0.0, 1.0] + [0.0] * 382),
            vector_model="m",
        )
        for i in range(1500)
    )
    write_in_other_process(path, "w:2", "Allopurinol in gout", "w:1")
    assert "w:2" in found(reader, "allopurinol")
    assert "w:1" not in found(reader, "colchicine")
    assert reader.vector_search([1.0] + [0.0] * 383, filters=SearchFilters(), limit=1)[0].doc_id == "w:2"
    assert reader.health().documents == 1501
