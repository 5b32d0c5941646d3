"""A worker SIGKILLed in the middle of a large file (parsed in its forked child): after a restart
the run finishes with exact counts and nothing stored twice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ingest.models import HarvestRun, ItemStatus, RunStatus
from records.models import EvidenceRecord
from tests.conftest import REPO_ROOT
from tests.ingest.eutils_server import pubmed_file, read_articles, with_new_pmid
from tests.workers import harvest_env  # noqa: F401

DONOR_FILE = "PathwayCommons__ncbiutils__tests--data--multiple.xml.gz"
COUNT = 3000


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_worker_killed_mid_file_resumes_with_exact_counts(harvest_env, shared_data: Path, tmp_path: Path) -> None:  # noqa: F811
    from ingest.pubmed import ahead

    donors = read_articles([shared_data / "pubmed" / "xml" / DONOR_FILE])
    path = tmp_path / "large.xml"
    path.write_bytes(
        pubmed_file(with_new_pmid(donors[index % len(donors)], str(38_000_000 + index)) for index in range(COUNT))
    )
    assert path.stat().st_size >= ahead.MIN_BYTES  # parsed in a forked child of the worker
    worker = harvest_env.start_worker()
    waiting = subprocess.Popen(
        [sys.executable, "manage.py", "load_pubmed", str(path), "--wait", "--batch-size", "100"],
        cwd=REPO_ROOT,
        env=harvest_env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        done = 0
        while time.monotonic() < deadline:
            item = HarvestRun.objects.first() and HarvestRun.objects.get().items.filter(kind="file").first()
            done = int(item.payload.get("done", 0)) if item else 0
            if done >= 500:
                break
            time.sleep(0.05)
        assert done >= 500, "the load never got going"
        family = [psutil.Process(worker.process.pid), *psutil.Process(worker.process.pid).children(recursive=True)]
        assert len(family) >= 2, "no forked parser child"
        worker.kill()
        _, alive = psutil.wait_procs(family, timeout=10)
        assert not alive  # the parser child went with its worker
        stored_at_kill = EvidenceRecord.objects.filter(source_id__startswith="38").count()
        assert stored_at_kill < COUNT, "the file finished before the kill"

        harvest_env.start_worker("w2")
        output, _ = waiting.communicate(timeout=300)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, output
    run = HarvestRun.objects.get()
    assert (run.status, run.fetched, run.new, run.failed) == (RunStatus.SUCCEEDED, COUNT, COUNT, 0)
    assert not run.items.exclude(status=ItemStatus.DONE).exists()
    ids = list(EvidenceRecord.objects.filter(source_id__startswith="38").values_list("source_id", flat=True))
    assert len(ids) == len(set(ids)) == COUNT
