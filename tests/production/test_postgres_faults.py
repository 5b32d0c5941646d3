"""PostgreSQL restarted in the middle of a load: the load resumes and the counts are exact."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.ingest.eutils_server import pubmed_file, replicate
from tests.ingest.harvest_helpers import served_articles
from tests.production.conftest import Cluster

RECORDS = 3000


@pytest.mark.integration
@pytest.mark.slow
def test_a_load_survives_a_postgresql_restart_with_exact_counts(
    cluster: Cluster, shared_data: Path, tmp_path: Path
) -> None:
    from datetime import date

    articles = replicate(served_articles(shared_data), RECORDS, first_pmid=80_000_000, start=date(2024, 1, 1), days=30)
    source = tmp_path / "replicated.xml"
    source.write_bytes(pubmed_file(articles))
    load = subprocess.Popen(
        [sys.executable, "manage.py", "load_pubmed", str(source), "--batch-size", "50"],
        cwd=REPO_ROOT,
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        stored = 0
        while stored == 0:
            assert time.monotonic() < deadline and load.poll() is None, "the load never stored a batch"
            time.sleep(0.2)
            stored = cluster.count("SELECT count(*) FROM records_evidencerecord")
        cluster.pg("restart")  # fast shutdown: open transactions are rolled back
        out, err = load.communicate(timeout=600)
    finally:
        if load.poll() is None:
            load.kill()
    assert stored < RECORDS, "the load finished before the restart: nothing was tested"
    assert load.returncode == 0, out + err
    assert "database connection lost" in err  # it did meet the restart
    assert f"read {RECORDS}, new {RECORDS}, updated 0, unchanged 0" in out, out
    assert cluster.count("SELECT count(*) FROM records_evidencerecord") == RECORDS
    assert cluster.count("SELECT count(DISTINCT source_id) FROM records_evidencerecord") == RECORDS
