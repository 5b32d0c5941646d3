"""`make prod-smoke` runs inside `make test`: the production shape comes up, harvests, serves HTTPS."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.integration
@pytest.mark.elasticsearch
@pytest.mark.slow
def test_production_shape_harvests_and_serves_search_over_https(shared_data: Path, redis_url: str) -> None:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "prod_smoke.sh")],
        cwd=REPO_ROOT,
        env={**os.environ, "EVIDENCE_SHARED_DATA": str(shared_data)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-6000:]
    assert "prod-smoke: ok" in result.stdout
