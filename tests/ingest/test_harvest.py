"""E-utilities harvests end to end: a real worker, a real broker, the local E-utilities server."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

import pytest

from ingest.harvest import Window, WindowError, batches, parse_day, plan_windows, split_window
from ingest.models import HarvestRun, ItemStatus, RunStatus, SavedQuery
from records.models import EvidenceRecord
from tests.conftest import REPO_ROOT
from tests.ingest.eutils_server import replicate
from tests.ingest.harvest_helpers import eutils_server, served_articles, stored_pmids
from tests.workers import any_harvest_env, broker, harvest_env, redis_harvest_env

__all__ = ["any_harvest_env", "broker", "eutils_server", "harvest_env", "redis_harvest_env"]

HARVEST = ("harvest_pubmed", "--query", "all[sb]", "--from", "1900/01/01", "--to", "2030/12/31", "--wait")


# --- windows (pure) ---------------------------------------------------------------------------


def test_split_window_halves_cover_the_window_without_overlap() -> None:
    window = Window(date(2020, 1, 1), date(2020, 12, 31))
    left, right = split_window(window)
    assert left.start == window.start and right.end == window.end
    assert (right.start - left.end).days == 1
    assert left.days + right.days == window.days


def test_single_day_window_cannot_be_split() -> None:
    with pytest.raises(WindowError, match="single day"):
        split_window(Window(date(2020, 5, 5), date(2020, 5, 5)))


def test_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(WindowError, match="before it starts"):
        Window(date(2021, 1, 2), date(2021, 1, 1))


def test_plan_splits_a_quarter_million_hits_until_every_piece_fits() -> None:
    root = Window(date(2000, 1, 1), date(2023, 12, 31))
    per_day = 250_000 / root.days

    class Counts(dict[Window, int]):
        def __missing__(self, window: Window) -> int:
            return round(window.days * per_day)

    planned = plan_windows(root, Counts(), cap=10_000)
    assert all(round(piece.days * per_day) <= 10_000 for piece in planned)
    assert sum(piece.days for piece in planned) == root.days
    assert planned == sorted(planned)


@pytest.mark.parametrize("text", ["2020/13/01", "yesterday", "2020/02/30", ""])
def test_bad_dates_are_refused_with_the_format_named(text: str) -> None:
    with pytest.raises(WindowError, match="YYYY/MM/DD"):
        parse_day(text)


def test_batches_cut_ids_in_order() -> None:
    assert batches(["1", "2", "3", "4", "5"], size=2) == [["1", "2"], ["3", "4"], ["5"]]


# --- the command refuses bad input before anything is queued -----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--query", "x", "--from", "2020/13/01"], "YYYY/MM/DD"),
        (["--query", "x", "--from", "2021/01/02", "--to", "2021/01/01"], "before it starts"),
        (["--query", "  "], "must not be empty"),
    ],
)
def test_harvest_command_refuses_bad_input_and_queues_nothing(args: list[str], message: str) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=message):
        call_command("harvest_pubmed", *args)
    assert not HarvestRun.objects.exists()


@pytest.mark.django_db
def test_harvest_from_ncbi_without_a_contact_email_is_refused(settings) -> None:
    from django.core.management import CommandError, call_command

    settings.NCBI_EMAIL = None
    settings.EUTILS_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
    with pytest.raises(CommandError, match="NCBI_EMAIL"):
        call_command("harvest_pubmed", "--query", "aspirin", "--from", "2024/01/01", "--to", "2024/01/31")
    assert not HarvestRun.objects.exists()


# --- real harvests ----------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_complete_harvest_stores_exactly_the_records_served(any_harvest_env, eutils_server, shared_data) -> None:
    articles = served_articles(shared_data)
    eutils_server.add(articles)
    env = any_harvest_env
    env.env.update(EUTILS_BASE_URL=eutils_server.base_url, EUTILS_BATCH_SIZE="60", EUTILS_RATE_LIMIT="20")
    env.start_worker()

    result = env.manage(*HARVEST)

    assert result.returncode == 0, result.stdout + result.stderr
    served = {article.pmid for article in articles}
    pmids = stored_pmids()
    assert len(pmids) == len(set(pmids)) == len(served)
    assert set(pmids) == served
    run = HarvestRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert (run.found, run.fetched, run.new, run.failed) == (len(served), len(served), len(served), 0)
    assert not run.items.exclude(status=ItemStatus.DONE).exists()
    requests = eutils_server.requests
    assert all(r.params.get("tool") == "evidence-portal-tests" for r in requests)
    assert all(r.params.get("email") == "harvest-tests@example.org" for r in requests)
    # The saved query now starts its next harvest where this one ended.
    assert SavedQuery.objects.get(query="all[sb]").checkpoint == date(2030, 12, 31)


@pytest.mark.integration
@pytest.mark.shared_data
def test_second_harvest_of_the_same_window_changes_nothing(harvest_env, eutils_server, shared_data) -> None:
    articles = served_articles(shared_data, SERVED_FILES_SMALL)
    eutils_server.add(articles)
    harvest_env.env.update(EUTILS_BASE_URL=eutils_server.base_url, EUTILS_RATE_LIMIT="20")
    harvest_env.start_worker()

    harvest_env.manage(*HARVEST, check=True)
    harvest_env.manage(*HARVEST, check=True)

    first, second = HarvestRun.objects.order_by("pk")
    assert first.new == len(articles)
    assert (second.new, second.updated, second.unchanged) == (0, 0, len(articles))
    assert EvidenceRecord.objects.filter(source="pubmed").count() == len(articles)


SERVED_FILES_SMALL = ("mattgrayson__pubmed__example-data--efetch.xml.gz",)


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_429_and_500_bursts_are_survived(redis_harvest_env, eutils_server, shared_data) -> None:
    articles = served_articles(shared_data, SERVED_FILES_SMALL)
    eutils_server.add(articles)
    env = redis_harvest_env
    env.env.update(EUTILS_BASE_URL=eutils_server.base_url, EUTILS_BATCH_SIZE="10", EUTILS_RATE_LIMIT="20")
    eutils_server.inject("500", 2, utility="esearch")
    eutils_server.inject("429", 4, utility="efetch")
    eutils_server.inject("500", 3, utility="efetch")
    env.start_worker()

    result = env.manage(*HARVEST)

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(stored_pmids()) == {article.pmid for article in articles}
    statuses = [request.status for request in eutils_server.requests]
    assert statuses.count(429) == 4 and statuses.count(500) == 5
    assert HarvestRun.objects.get().failed == 0


@pytest.mark.integration
@pytest.mark.shared_data
def test_truncated_xml_body_is_fetched_again(harvest_env, eutils_server, shared_data) -> None:
    articles = served_articles(shared_data, SERVED_FILES_SMALL)
    eutils_server.add(articles)
    harvest_env.env.update(EUTILS_BASE_URL=eutils_server.base_url, EUTILS_BATCH_SIZE="25", EUTILS_RATE_LIMIT="20")
    eutils_server.inject("truncate", 2, utility="efetch")
    harvest_env.start_worker()

    result = harvest_env.manage(*HARVEST)

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(stored_pmids()) == {article.pmid for article in articles}
    efetches = [request for request in eutils_server.requests if request.utility == "efetch"]
    assert len(efetches) == 2 + 2  # two batches of 25, plus the two truncated answers fetched again


@pytest.mark.integration
@pytest.mark.shared_data
def test_run_that_keeps_failing_ends_failed_with_the_reason_and_a_nonzero_exit(
    harvest_env, eutils_server, shared_data
) -> None:
    articles = served_articles(shared_data, SERVED_FILES_SMALL)
    eutils_server.add(articles)
    harvest_env.env.update(
        EUTILS_BASE_URL=eutils_server.base_url, EUTILS_BATCH_SIZE="25", EUTILS_MAX_RETRIES="1", EUTILS_RATE_LIMIT="20"
    )
    eutils_server.inject("500", 100, utility="efetch")
    harvest_env.start_worker()

    result = harvest_env.manage(*HARVEST)

    assert result.returncode != 0
    assert "failed" in result.stderr
    run = HarvestRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.failed == len(articles)
    assert any("HTTP 500" in entry["error"] for entry in run.errors)


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_window_over_ten_thousand_hits_is_split_and_fully_fetched(harvest_env, eutils_server, shared_data) -> None:
    base = served_articles(shared_data, SERVED_FILES_SMALL)[:40]
    copies = replicate(base, 10_050, first_pmid=90_000_000, start=date(2020, 1, 1), days=366)
    eutils_server.add(copies)
    # Hand-off stages off: this test is about completeness of the fetch, not grading 10,000 copies.
    harvest_env.env.update(
        EUTILS_BASE_URL=eutils_server.base_url,
        EUTILS_BATCH_SIZE="1000",
        EUTILS_RATE_LIMIT="50",
        INGEST_HANDOFF_STAGES="",
    )
    harvest_env.start_worker()

    result = harvest_env.manage(
        "harvest_pubmed",
        "--query",
        "all[sb]",
        "--from",
        "2020/01/01",
        "--to",
        "2020/12/31",
        "--datetype",
        "edat",
        "--wait",
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert EvidenceRecord.objects.filter(source="pubmed").count() == 10_050
    run = HarvestRun.objects.get()
    assert (run.found, run.new, run.failed) == (10_050, 10_050, 0)
    windows = list(run.items.filter(kind="window"))
    split = [item for item in windows if item.payload.get("split")]
    leaves = [item for item in windows if not item.payload.get("split")]
    assert len(split) >= 1 and len(leaves) >= 2
    assert all(item.payload["count"] <= 10_000 for item in leaves)
    assert sum(item.payload["count"] for item in leaves) == 10_050


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.slow
def test_worker_killed_mid_run_resumes_without_loss_or_duplicates(any_harvest_env, eutils_server, shared_data) -> None:
    articles = served_articles(shared_data)
    eutils_server.add(articles)
    env = any_harvest_env
    env.env.update(EUTILS_BASE_URL=eutils_server.base_url, EUTILS_BATCH_SIZE="10", EUTILS_RATE_LIMIT="6")
    worker = env.start_worker()
    waiting = subprocess.Popen(
        [sys.executable, "manage.py", *HARVEST, "--stall-seconds", "5"],
        cwd=REPO_ROOT,
        env=env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        run = None
        while time.monotonic() < deadline:
            run = HarvestRun.objects.first()
            if run and run.items.filter(kind="batch", status=ItemStatus.DONE).count() >= 4:
                break
            time.sleep(0.1)
        assert run is not None
        worker.kill()
        done_at_kill = run.items.filter(kind="batch", status=ItemStatus.DONE).count()
        assert done_at_kill < run.items.filter(kind="batch").count(), "the run finished before the kill"
        env.start_worker("w2")
        output, _ = waiting.communicate(timeout=180)
    finally:
        if waiting.poll() is None:
            waiting.kill()

    assert waiting.returncode == 0, output
    served = {article.pmid for article in articles}
    pmids = stored_pmids()
    assert len(pmids) == len(served) and set(pmids) == served
    run = HarvestRun.objects.get()
    assert (run.status, run.new, run.fetched, run.failed) == (RunStatus.SUCCEEDED, len(served), len(served), 0)
