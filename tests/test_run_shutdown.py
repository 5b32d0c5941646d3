"""`make run` stops promptly and completely, and a second start never meets an old worker.

Real processes throughout: scripts/run.sh with its worker (busy embedding the seed) and gunicorn.
The same run checks the access and worker logs for the query text of a clinical search.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO_ROOT
from tests.test_smoke_server import SEED_FILE, fetch, free_port

STOP_WITHIN = 10.0
PATIENT_QUERY = "pregnant 16 year old HIV positive"


def _env(shared_data: Path, data_dir: Path, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(EVIDENCE_DATA_DIR=str(data_dir), EVIDENCE_SEED=str(shared_data / SEED_FILE), PORT=str(port))
    env["WEB_WORKERS"] = "1"
    return env


def _start(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("w") as log:
        server = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 300
    while "Evidence Portal is running at" not in log_path.read_text():
        assert server.poll() is None, f"run.sh exited early:\n{log_path.read_text()}"
        assert time.monotonic() < deadline, f"server not up in time:\n{log_path.read_text()}"
        time.sleep(0.5)
    return server


def _group_members(pid_file: Path) -> list[psutil.Process]:
    group = int(pid_file.read_text())
    members = [process for process in psutil.process_iter() if _pgid(process.pid) == group]
    assert members, f"no process in group {group}"
    return members


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [process for process in processes if process.is_running() and process.status() != psutil.STATUS_ZOMBIE]


def _wait_gone(processes: list[psutil.Process], seconds: float) -> float:
    started = time.monotonic()
    while _alive(processes) and time.monotonic() - started < seconds + 5:
        time.sleep(0.1)
    return time.monotonic() - started


def _worker_busy(data_dir: Path) -> None:
    """Wait until the worker runs a task (the embedding backfill), the case that used to hang."""
    log = data_dir / "worker.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and "received" in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker never received a task:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_ctrl_c_stops_every_process_and_a_second_start_finds_no_old_worker(shared_data: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    env = _env(shared_data, data_dir, port)
    first = _start(env, tmp_path / "run1.log")
    try:
        # A clinical search: its words must not reach any log.
        fetch(f"http://127.0.0.1:{port}/search?" + urllib.parse.urlencode({"q": PATIENT_QUERY, "sort": "newest"}))
        _worker_busy(data_dir)
        started = _group_members(data_dir / "worker.pid") + _group_members(data_dir / "web.pid")

        # run.sh killed outright (a closed terminal, an OOM kill): its servers are left behind.
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert len(_alive(started)) == len(started)

        second = _start(env, tmp_path / "run2.log")
        # The second start stopped the old worker and web server before starting its own.
        assert not _alive(started), [process.cmdline() for process in _alive(started)]
        assert "stopping a server left running by an earlier start" in (tmp_path / "run2.log").read_text()
        assert "<form" in fetch(f"http://127.0.0.1:{port}/")
        _worker_busy(data_dir)
        started = _group_members(data_dir / "worker.pid") + _group_members(data_dir / "web.pid")
        assert len(started) >= 3  # worker, its pool child and beat; gunicorn and its worker

        # Ctrl-C: the terminal sends SIGINT to run.sh's foreground process group.
        os.killpg(second.pid, signal.SIGINT)
        took = _wait_gone(started, STOP_WITHIN)
        second.wait(timeout=5)
        assert not _alive(started), [process.cmdline() for process in _alive(started)]
        assert took < STOP_WITHIN, f"processes took {took:.1f} s to stop"
    finally:
        for pid_file in (data_dir / "worker.pid", data_dir / "web.pid"):
            if pid_file.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        if first.poll() is None:
            first.kill()

    logs = [path for path in data_dir.glob("*.log")] + [tmp_path / "run1.log", tmp_path / "run2.log"]
    access = (data_dir / "access.log").read_text()
    assert "GET /search?q=-&sort=newest" in access
    for path in logs:
        text = path.read_text(errors="replace")
        for word in ("pregnant", "16 year", "16+year"):
            assert word not in text, f"{path.name} holds query text: {word}"


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_a_web_server_that_dies_stops_the_worker_and_run_sh_exits_with_an_error(
    shared_data: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    server = _start(_env(shared_data, data_dir, free_port()), tmp_path / "run.log")
    try:
        worker = _group_members(data_dir / "worker.pid")
        os.killpg(int((data_dir / "web.pid").read_text()), signal.SIGKILL)
        assert server.wait(timeout=STOP_WITHIN + 5) == 1
        assert not _alive(worker), [process.cmdline() for process in _alive(worker)]
        assert "a server stopped on its own" in (tmp_path / "run.log").read_text()
    finally:
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.killpg(int((data_dir / "worker.pid").read_text()), signal.SIGKILL)
        if server.poll() is None:
            server.kill()
