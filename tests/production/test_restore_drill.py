"""The restore drill of docs/deployment.md: dump PostgreSQL, lose it, restore it, rebuild the index."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.ingest.harvest_helpers import SERVED_FILES
from tests.production.conftest import Cluster

SNAPSHOT = """
import json, django
django.setup()
from records.models import EvidenceRecord
from search.services import search_records
from search.types import SearchRequest
page = search_records(SearchRequest(text="cancer", page_size=10))
print(json.dumps({
    "count": EvidenceRecord.objects.count(),
    "hashes": sorted(EvidenceRecord.objects.values_list("uid", "content_hash")),
    "results": [result.record.uid for result in page.results],
    "total": page.total,
}))
"""


def _snapshot(cluster: Cluster) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", SNAPSHOT], cwd=REPO_ROOT, env=cluster.env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.integration
@pytest.mark.slow
def test_a_database_restored_from_its_dump_serves_the_same_records_and_results(
    cluster: Cluster, shared_data: Path, tmp_path: Path
) -> None:
    cluster.manage("load_pubmed", *(str(shared_data / "pubmed" / "xml" / name) for name in SERVED_FILES))
    cluster.manage("rebuild_index")
    before = _snapshot(cluster)
    assert before["count"] and before["total"], before

    dump = tmp_path / "evidence.pgc"
    url = cluster.database_url
    subprocess.run([cluster.tool("pg_dump"), "--format=custom", f"--file={dump}", url], check=True, timeout=300)
    server = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run([cluster.tool("psql"), server, "-qc", "DROP DATABASE evidence WITH (FORCE)"], check=True)
    subprocess.run([cluster.tool("psql"), server, "-qc", "CREATE DATABASE evidence"], check=True)
    assert cluster.count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0  # it is gone
    shutil.rmtree(Path(cluster.env["EVIDENCE_DATA_DIR"]) / "index")  # and so is the index

    subprocess.run([cluster.tool("pg_restore"), "--no-owner", f"--dbname={url}", str(dump)], check=True, timeout=300)
    migrate = cluster.manage("migrate", "--noinput")
    assert "No migrations to apply" in migrate.stdout
    cluster.manage("rebuild_index")
    after = _snapshot(cluster)
    assert after == before
