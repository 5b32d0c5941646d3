"""The data folder's disk fills up during an index write: a clear error, the live index and the
database as before, and the next run completes once there is space again.

The index lives on a real size-limited file system (a 16 MiB tmpfs), filled up to the last few
kilobytes before the rebuild."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from records.models import EvidenceRecord
from search.backends import get_backend, reset_backends
from search.backends.base import SearchFilters
from search.indexing import records_index
from search.models import IndexEntry
from search.services import search_records
from search.types import SearchRequest
from tests.factories import EvidenceRecordFactory


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path, *, leave: int) -> Path:
    """Fill ``disk`` up to ``leave`` free bytes; return the filler file."""
    import os

    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    filler = disk / "filler"
    with filler.open("wb") as out:
        out.write(b"\0" * max(free - leave, 0))
    return filler


@pytest.mark.slow
@pytest.mark.django_db
def test_rebuild_on_a_full_disk_fails_clearly_and_changes_nothing(small_disk: Path, settings: Any) -> None:
    settings.SEARCH_BACKENDS = {
        **settings.SEARCH_BACKENDS,
        "embedded": {
            "BACKEND": "search.backends.embedded.EmbeddedBackend",
            "OPTIONS": {"path": str(small_disk / "index")},
        },
    }
    settings.SEARCH_DEFAULT_BACKEND = "embedded"
    reset_backends()
    try:
        records = [
            EvidenceRecordFactory(title=f"Statin trial {n}", abstract="Adults were randomised. " * 40)
            for n in range(150)
        ]
        records_index(record_ids=[record.pk for record in records])
        backend = get_backend()
        live = backend.live_generation()
        entries = sorted(IndexEntry.objects.values_list("record_id", "content_hash"))
        assert search_records(SearchRequest(text="statin")).total == 150

        filler = _fill(small_disk, leave=32 * 1024)
        with pytest.raises(CommandError) as raised:
            call_command("rebuild_index", verbosity=0)
        message = str(raised.value)
        assert "No space left on device" in message or "disk is full" in message or "space" in message.lower()
        assert "nothing was changed" in message and "run rebuild_index again" in message

        # The running portal keeps searching the live generation while the disk is still full
        # (a process started meanwhile could not open it: SQLite needs a few KB for its WAL index).
        assert backend.live_generation() == live
        assert backend.generations() == [live]  # the half-written generation is gone
        assert backend.count(filters=SearchFilters()) == 150
        assert search_records(SearchRequest(text="statin")).total == 150
        assert EvidenceRecord.objects.count() == 150
        assert sorted(IndexEntry.objects.values_list("record_id", "content_hash")) == entries

        filler.unlink()
        reset_backends()
        assert get_backend().count(filters=SearchFilters()) == 150
        call_command("rebuild_index", verbosity=0)
        reset_backends()
        backend = get_backend()
        assert backend.live_generation() != live
        assert backend.count(filters=SearchFilters()) == 150
        assert search_records(SearchRequest(text="statin")).total == 150
    finally:
        reset_backends()
