"""SIGTERM to a busy harvest worker: every process of it is gone within 10 s, and its work item
is handed back, so the next worker finishes the run with exact counts.

Real prefork workers (as `make run` starts them: REMAP_SIGTERM=SIGQUIT, Celery's cold shutdown)
on both brokers, against the local E-utilities server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from ingest.models import HarvestRun, ItemStatus, RunStatus
from tests.conftest import REPO_ROOT
from tests.ingest.harvest_helpers import eutils_server, served_articles, stored_pmids  # noqa: F401
from tests.ingest.test_harvest import HARVEST, SERVED_FILES_SMALL
from tests.workers import any_harvest_env, broker  # noqa: F401

STOP_WITHIN = 10.0


def _wait_for(predicate, *, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("busy", ["waiting to retry", "request in flight"])
def test_sigterm_stops_a_busy_worker_quickly_and_its_item_is_handed_back(
    busy: str,
    any_harvest_env,  # noqa: F811
    eutils_server,  # noqa: F811
    shared_data,
) -> None:
    articles = served_articles(shared_data, SERVED_FILES_SMALL)
    eutils_server.add(articles)
    if busy == "waiting to retry":
        eutils_server.inject("500", 1000, utility="efetch")  # the batch waits 30-60 s between tries
    else:
        eutils_server.inject("hang", 1000, utility="efetch")  # the request hangs until its timeout
    env = any_harvest_env
    env.env.update(
        EUTILS_BASE_URL=eutils_server.base_url,
        EUTILS_RATE_LIMIT="20",
        EUTILS_RETRY_BASE_SECONDS="60",
        EUTILS_TIMEOUT="120",
        REMAP_SIGTERM="SIGQUIT",
    )
    worker = env.start_worker(pool="prefork")
    waiting = subprocess.Popen(
        [sys.executable, "manage.py", *HARVEST, "--stall-seconds", "5"],
        cwd=REPO_ROOT,
        env=env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The server has taken the first fault: an efetch answered 500, or one left hanging.
        fault = eutils_server.state.faults[0]
        _wait_for(lambda: fault.remaining < 1000, seconds=120, what="the first efetch")
        if busy == "waiting to retry":
            _wait_for(lambda: "retry 1 in" in worker.output(), seconds=60, what="the retry to be scheduled")
        else:
            time.sleep(1.0)
        main = psutil.Process(worker.process.pid)
        processes = [main, *main.children(recursive=True)]
        assert len(processes) >= 2  # the main process and its pool child

        started = time.monotonic()
        os.kill(worker.process.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(processes, timeout=STOP_WITHIN + 5)
        took = time.monotonic() - started
        assert not alive, [p.pid for p in alive]
        assert took < STOP_WITHIN, f"the worker took {took:.1f} s to stop:\n{worker.output()[-3000:]}"

        run = HarvestRun.objects.get()
        assert run.items.filter(kind="batch", status=ItemStatus.PENDING).exists()  # handed back, not failed
        assert not run.items.filter(status=ItemStatus.FAILED).exists()

        eutils_server.heal()
        env.start_worker("w2", pool="prefork")
        output, _ = waiting.communicate(timeout=240)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, output
    served = {article.pmid for article in articles}
    pmids = stored_pmids()
    assert len(pmids) == len(served) and set(pmids) == served
    run = HarvestRun.objects.get()
    assert (run.status, run.new, run.fetched, run.failed) == (RunStatus.SUCCEEDED, len(served), len(served), 0)
