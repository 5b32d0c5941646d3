"""Start the portal exactly the way `make run` does and search it over real HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SEED_FILE = "pubmed/xml/CyTyDS__PROJET-NoSQL__pubmed_result.xml"
KNOWN_TITLE = "Genotypic resistance profiles of HIV-2 infected patients from Cape Verde"
KNOWN_PMID = "31764077"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode("utf-8")


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_run_script_serves_search_results_from_seed(shared_data: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        EVIDENCE_DATA_DIR=str(tmp_path / "var"),
        EVIDENCE_SEED=str(shared_data / SEED_FILE),
        PORT=str(port),
    )
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while "Evidence Portal is running at" not in log_path.read_text():
            assert server.poll() is None, f"run.sh exited early:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"server not up in time:\n{log_path.read_text()}"
            time.sleep(0.5)
        base = f"http://127.0.0.1:{port}"
        assert "<form" in fetch(f"{base}/")
        results = fetch(f"{base}/search?q=HIV-2+Cape+Verde+resistance")
        assert KNOWN_TITLE in re.sub(r"</?mark>", "", results)  # matched terms are highlighted
        assert f"https://pubmed.ncbi.nlm.nih.gov/{KNOWN_PMID}/" in results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
