"""Fixtures shared by the whole suite, and the CI rule that nothing that matters is skipped."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """Return ``../shared/data`` (or ``EVIDENCE_SHARED_DATA``) when it exists."""
    configured = os.environ.get("EVIDENCE_SHARED_DATA")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real shared data folder; skipped locally when absent, a failure in CI."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is not here (set EVIDENCE_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis started by `make test` (REDIS_TEST_URL)."""
    url = os.environ.get("REDIS_TEST_URL")
    if not url:
        pytest.skip("REDIS_TEST_URL is not set: run the suite with `make test`")
    return url


def pytest_configure(config: pytest.Config) -> None:
    """Give the processes the tests start the stop signals a terminal would deliver.

    A suite started as a background job of a non-interactive shell (``nohup … &``) inherits
    SIGHUP, SIGINT and SIGQUIT ignored, and so does every process it starts: ``make run`` could
    not trap Ctrl-C and a Celery pool child would outlive its worker's cold shutdown, failing the
    shutdown tests for a reason the product does not have."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for stop in (signal.SIGHUP, signal.SIGQUIT):
        if signal.getsignal(stop) is signal.SIG_IGN:
            signal.signal(stop, signal.SIG_DFL)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if os.environ.get("CI") == "true" and skipped:
        terminalreporter.write_line(
            f"CI forbids skipped tests: {len(skipped)} skipped (a real component or the shared data is missing)",
            red=True,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") == "true" and skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
