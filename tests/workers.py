"""Real Celery worker processes for tests, against a real broker and the test database.

The test database is a file (tests/settings.py) or a PostgreSQL database, so a worker started
with ``DATABASE_URL`` pointing at it sees what a ``transactional_db`` test commits. Brokers: the real Redis of
``make test`` (a database number of its own, flushed first) or the embedded default, Kombu's
SQLAlchemy transport on a SQLite file. Workers use the solo pool, so SIGKILL kills the process
that runs the task, as a crashed machine would.

Use the fixtures by importing them into a test module: ``from tests.workers import harvest_env``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests.conftest import REPO_ROOT

READY_TIMEOUT = 90.0
# A Redis database number used only by these tests (flushed at the start of each).
REDIS_TEST_DB = 11


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker: no shutdown, no acknowledgements, as a crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class HarvestEnv:
    """The environment shared by workers and commands of one test, and what it started."""

    env: dict[str, str]
    folder: Path
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self, name: str = "w1", *, pool: str = "solo", queues: str | None = None, **extra: str) -> Worker:
        """Start a worker (on every queue, or on the comma-separated ``queues``) and wait until ready."""
        log = self.folder / f"worker-{name}-{len(self.workers)}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "evidence_portal",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            "1",
            "--hostname",
            f"{name}-{len(self.workers)}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
            *(["--queues", queues] if queues else []),
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env={**self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name=name, process=process, log=log)
        self.workers.append(worker)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if " ready." in worker.output():
                return worker
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited at start:\n{worker.output()[-4000:]}")
            time.sleep(0.2)
        worker.stop()
        raise RuntimeError(f"worker {name} not ready after {READY_TIMEOUT:g} s:\n{worker.output()[-4000:]}")

    def manage(self, *args: str, timeout: float = 180, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py`` with this environment and return the finished process."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()


def _redis_db_url(url: str, number: int) -> str:
    base, _, last = url.rstrip("/").rpartition("/")
    return f"{base}/{number}" if last.isdigit() else f"{url.rstrip('/')}/{number}"


def test_database_url() -> str:
    """Return a DATABASE_URL for the test database, for processes started by a test."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = quote(str(settings["USER"] or ""), safe="")
        password = f":{quote(str(settings['PASSWORD']), safe='')}" if settings["PASSWORD"] else ""
        return f"postgres://{user}{password}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    database = str(settings["NAME"])
    if not database.endswith(".sqlite3"):
        raise RuntimeError(f"the test database is not a file ({database}); see tests/settings.py")
    return f"sqlite:///{database}"


def make_env(*, broker: str, folder: Path, redis_url: str | None, **extra: str) -> dict[str, str]:
    """Return the environment for workers and commands of one test."""
    database_url = test_database_url()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "CELERY_BROKER_URL", "NCBI_API_KEY", "DATABASE_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database_url,
        NCBI_EMAIL="harvest-tests@example.org",
        NCBI_TOOL="evidence-portal-tests",
        EUTILS_RETRY_BASE_SECONDS="0.2",
        INGEST_STALL_SECONDS="5",
        # Grading and text indexing run in the worker as in production; embedding (minutes of
        # CPU per thousand records) is the search tests' business.
        INGEST_HANDOFF_STAGES="grade,index",
        PYTHONUNBUFFERED="1",
    )
    if broker == "redis":
        if not redis_url:
            raise RuntimeError("the redis broker needs REDIS_TEST_URL")
        url = _redis_db_url(redis_url, REDIS_TEST_DB)
        import redis

        redis.Redis.from_url(url).flushdb()
        env.update(CELERY_BROKER_URL=url, REDIS_URL=url)
    elif connection.vendor == "postgresql":
        # The fallback broker of a PostgreSQL deployment: Kombu's tables in the same database
        # (settings.py); messages a previous test left behind are dropped first.
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('kombu_message') IS NOT NULL")
            if cursor.fetchone()[0]:
                cursor.execute("DELETE FROM kombu_message")
    else:
        env.update(CELERY_BROKER_URL=f"sqla+sqlite:///{folder / 'broker.sqlite3'}")
    env.update(extra)
    return env


@pytest.fixture(params=["redis", "sqlalchemy"])
def broker(request: pytest.FixtureRequest) -> str:
    """Each broker the worker must work with: real Redis and the embedded SQLAlchemy default."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return str(request.param)


@pytest.fixture
def harvest_env(transactional_db: None, tmp_path: Path) -> Iterator[HarvestEnv]:
    """A ``HarvestEnv`` on the SQLAlchemy broker; workers are stopped at the end."""
    environment = HarvestEnv(env=make_env(broker="sqlalchemy", folder=tmp_path, redis_url=None), folder=tmp_path)
    try:
        yield environment
    finally:
        environment.stop_all()


@pytest.fixture
def redis_harvest_env(transactional_db: None, tmp_path: Path, redis_url: str) -> Iterator[HarvestEnv]:
    """A ``HarvestEnv`` on the real Redis broker; workers are stopped at the end."""
    environment = HarvestEnv(env=make_env(broker="redis", folder=tmp_path, redis_url=redis_url), folder=tmp_path)
    try:
        yield environment
    finally:
        environment.stop_all()


@pytest.fixture
def any_harvest_env(transactional_db: None, tmp_path: Path, broker: str) -> Iterator[HarvestEnv]:
    """A ``HarvestEnv`` on each broker in turn (parametrised by ``broker``)."""
    url = os.environ.get("REDIS_TEST_URL") if broker == "redis" else None
    environment = HarvestEnv(env=make_env(broker=broker, folder=tmp_path, redis_url=url), folder=tmp_path)
    try:
        yield environment
    finally:
        environment.stop_all()
