"""Redis (broker and rate limiter) restarted in the middle of a harvest: the worker reconnects,
the run finishes with exact counts. The restarted Redis has lost every queued message (no
persistence), so this also proves the waiting command re-enqueues what was lost."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.models import HarvestRun, ItemStatus, RunStatus
from tests.conftest import REPO_ROOT
from tests.ingest.harvest_helpers import eutils_server, served_articles, stored_pmids  # noqa: F401
from tests.ingest.test_harvest import HARVEST
from tests.workers import HarvestEnv, make_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(_free_port()).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_redis_restarted_mid_harvest_the_run_finishes_exactly(
    transactional_db: None,
    tmp_path: Path,
    own_redis: RedisServer,
    eutils_server,  # noqa: F811
    shared_data: Path,
) -> None:
    articles = served_articles(shared_data)
    eutils_server.add(articles)
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    env = HarvestEnv(env=make_env(broker="redis", folder=tmp_path, redis_url=url), folder=tmp_path)
    env.env.update(EUTILS_BASE_URL=eutils_server.base_url, EUTILS_BATCH_SIZE="10", EUTILS_RATE_LIMIT="6")
    waiting = None
    try:
        env.start_worker()
        waiting = subprocess.Popen(
            [sys.executable, "manage.py", *HARVEST, "--stall-seconds", "5"],
            cwd=REPO_ROOT,
            env=env.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        run = None
        while time.monotonic() < deadline:
            run = HarvestRun.objects.first()
            if run and run.items.filter(kind="batch", status=ItemStatus.DONE).count() >= 3:
                break
            time.sleep(0.1)
        assert run is not None
        own_redis.kill()
        time.sleep(3)  # down for a while: the worker and the waiting command see it gone
        done_while_down = run.items.filter(kind="batch", status=ItemStatus.DONE).count()
        assert done_while_down < run.items.filter(kind="batch").count(), "the run finished before the restart"
        own_redis.start()
        output, _ = waiting.communicate(timeout=300)
    finally:
        if waiting is not None and waiting.poll() is None:
            waiting.kill()
        env.stop_all()
    assert waiting.returncode == 0, output
    served = {article.pmid for article in articles}
    pmids = stored_pmids()
    assert len(pmids) == len(served) and set(pmids) == served
    run = HarvestRun.objects.get()
    assert (run.status, run.new, run.fetched, run.failed) == (RunStatus.SUCCEEDED, len(served), len(served), 0)
