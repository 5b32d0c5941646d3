"""A throwaway PostgreSQL cluster per test (scripts/pg_cluster.sh) and commands run against it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "pg_cluster.sh"


@dataclass
class Cluster:
    folder: Path
    database_url: str
    env: dict[str, str]

    def pg(self, action: str) -> None:
        subprocess.run(["bash", str(SCRIPT), action, str(self.folder)], check=True, capture_output=True, timeout=120)

    def tool(self, name: str) -> str:
        bindir = subprocess.run(["bash", str(SCRIPT), "bindir", "-"], check=True, capture_output=True, text=True)
        return str(Path(bindir.stdout.strip()) / name)

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def count(self, sql: str) -> int:
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            row = conn.execute(sql).fetchone()
            return int(row[0]) if row else 0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A fresh cluster and an environment for manage.py against it (embedded index, no Redis)."""
    folder = Path(tempfile.mkdtemp(prefix="evidence-pg-test-"))
    folder.chmod(0o755)  # the cluster runs as an unprivileged user when the tests run as root
    line = subprocess.run(
        ["bash", str(SCRIPT), "start", str(folder / "cluster")], check=True, capture_output=True, text=True, timeout=120
    ).stdout.strip()
    url = line.split("=", 1)[1]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL", "CELERY_BROKER_URL", "SEARCH_BACKEND"}
    }
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="evidence_portal.settings",
        SECRET_KEY="production-test-secret-key-that-is-long-enough-0123456789",
        EVIDENCE_DATA_DIR=str(folder / "data"),
        INGEST_HANDOFF_STAGES="",
        PYTHONUNBUFFERED="1",
    )
    made = Cluster(folder=folder / "cluster", database_url=url, env=env)
    made.manage("migrate", "--noinput")
    try:
        yield made
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder / "cluster")], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
