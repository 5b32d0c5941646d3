"""The JSON API's per-client limit is shared by every web process through Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import redis

from tests.conftest import REPO_ROOT

OTHER_PROCESS = """
import django
django.setup()
from django.test import RequestFactory
from portal.api import ClientRateThrottle
request = RequestFactory().get("/api/v1/search", REMOTE_ADDR="203.0.113.9")
print(sum(ClientRateThrottle().allow_request(request) for _ in range(3)))
"""


@pytest.mark.integration
def test_requests_in_another_process_count_against_the_same_limit(
    client: Any, settings: Any, redis_url: str, db: None
) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(url).flushdb()
    settings.REDIS_URL = url
    settings.PORTAL_API_RATE = "5/m"
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "REDIS_URL": url,
            "PORTAL_API_RATE": "5/m",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip().splitlines()[-1] == "3"  # the other process used 3 of the 5
    statuses = [client.get("/api/v1/records/1", REMOTE_ADDR="203.0.113.9").status_code for _ in range(3)]
    assert statuses[:2] == [404, 404]  # allowed (no such record)
    assert statuses[2] == 429
    # Another client has its own allowance.
    assert client.get("/api/v1/records/1", REMOTE_ADDR="203.0.113.10").status_code == 404
