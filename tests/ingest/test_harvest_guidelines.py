"""Guideline harvests end to end: a real worker, a real broker, a local server replaying responses.

OAI-PMH (recorded real responses of ../shared/data/guidelines/oai and a small repository written
here for windows, sets, deletions and errors), a feed pointing at HTML and PDF documents, and the
real USPSTF API JSON, each run by ``manage.py harvest_guidelines --wait`` through the workers.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from guidelines.models import Guideline, GuidelineSource, SourceProtocol
from ingest.models import HarvestRun, ItemKind, ItemStatus, RunStatus
from records.models import EvidenceRecord
from tests.conftest import REPO_ROOT
from tests.guidelines.documents import guideline_html, guideline_pdf, scanned_pdf
from tests.ingest.guideline_server import GuidelineServer, OaiRecord, OaiRepository, Reply
from tests.workers import harvest_env, redis_harvest_env

__all__ = ["harvest_env", "redis_harvest_env"]

OAI_DIR = Path("guidelines") / "oai"
FOUR_PAGES = [f"caseyamcl__phpoaipmh__tests--SampleXML--GoodResponseFourPage_{n}.xml" for n in (1, 2, 3, 4)]
COUNTS = re.compile(
    r"read (\d+), new (\d+), updated (\d+), unchanged (\d+), new versions (\d+), deleted (\d+), failed (\d+)"
)

pytestmark = [pytest.mark.integration]


@pytest.fixture
def server() -> Iterator[GuidelineServer]:
    running = GuidelineServer().start()
    try:
        yield running
    finally:
        running.stop()


def counts(output: str) -> tuple[int, ...]:
    """Return (read, new, updated, unchanged, new versions, deleted, failed) the command printed."""
    found = COUNTS.search(output)
    assert found, output
    return tuple(int(value) for value in found.groups())


def harvest(env, *args: str, ok: bool | None = True) -> str:
    """Run ``harvest_guidelines ... --wait``; check it succeeded (or failed) as ``ok`` says."""
    result = env.manage("harvest_guidelines", *args, "--wait", "--timeout", "120")
    output = result.stdout + result.stderr
    if ok is not None:
        assert (result.returncode == 0) == ok, output
    return output


def guideline_records(**filters: object) -> int:
    return EvidenceRecord.objects.filter(source="guideline", deleted_at__isnull=True, **filters).count()


def _records(days: dict[str, date], *, spec: str = "guidelines") -> list[OaiRecord]:
    return [
        OaiRecord(
            identifier=f"oai:example.org:{name}",
            day=day,
            title=f"Guideline on {name}",
            creator="Example Health Agency",
            description=f"Recommendations on {name}.",
            sets=(spec,),
        )
        for name, day in days.items()
    ]


# --- OAI-PMH ------------------------------------------------------------------------------------


def test_incremental_oai_source_pages_windows_sets_and_deletions(harvest_env, server) -> None:
    today = timezone.localdate()
    first = _records({f"topic-{n}": date(2024, 1, n) for n in range(1, 6)})
    other_set = _records({"elsewhere": date(2024, 1, 2)}, spec="other")
    repository = OaiRepository(first + other_set, page_size=2)
    url = server.add("/oai", repository)
    GuidelineSource.objects.create(name="agency", protocol=SourceProtocol.OAI, url=url, set_spec="guidelines")
    harvest_env.start_worker()

    output = harvest(harvest_env, "--source", "agency")

    # Five records of the set, on three pages (2 + 2 + 1), none from the other set.
    assert counts(output) == (5, 5, 0, 0, 0, 0, 0)
    run = HarvestRun.objects.get()
    assert (run.found, run.status) == (5, RunStatus.SUCCEEDED)
    assert run.items.filter(kind=ItemKind.OAI_PAGE, status=ItemStatus.DONE).count() == 3
    assert set(Guideline.objects.values_list("source_id", flat=True)) == {r.identifier for r in first}
    source = GuidelineSource.objects.get()
    assert source.checkpoint == today
    assert server.requests_to("/oai")[0].params.get("set") == "guidelines"

    # Next day at the publisher: one record deleted, one changed, one new, one old one untouched.
    repository.records = [
        OaiRecord(identifier=first[0].identifier, day=today, deleted=True, sets=("guidelines",)),
        OaiRecord(
            identifier=first[1].identifier,
            day=today,
            title=first[1].title,
            creator="Example Health Agency",
            description="Revised recommendations on topic-2.",
            sets=("guidelines",),
            issued=first[1].day,
        ),
        OaiRecord(
            identifier=first[2].identifier,
            day=today,
            title=first[2].title,
            creator="Example Health Agency",
            description="The 2025 update of the recommendations on topic-3.",
            sets=("guidelines",),
            issued=date(2025, 6, 1),
        ),
        *first[3:],
        *_records({"topic-new": today}),
    ]
    output = harvest(harvest_env, "--source", "agency")

    # Deleted, changed in place, re-issued as a newer version, new: the untouched two not asked for.
    assert counts(output) == (4, 1, 1, 0, 1, 1, 0)
    second = HarvestRun.objects.order_by("-pk").first()
    assert (second.window_start, second.window_end) == (today, today)
    asked = [request.params for request in server.requests_to("/oai") if "resumptionToken" not in request.params]
    assert asked[-1]["from"].startswith(today.isoformat()) and asked[-1]["until"].startswith(today.isoformat())
    assert Guideline.objects.get(source_id=first[0].identifier).deleted_at is not None
    newer = Guideline.objects.get(source_id=first[2].identifier)
    assert newer.year == 2025 and newer.supersedes.get().year == 2024
    assert Guideline.objects.filter(deleted_at__isnull=True, superseded_by__isnull=True).count() == 5


def test_no_records_match_is_an_empty_successful_run(harvest_env, server) -> None:
    url = server.add("/oai", OaiRepository(_records({"old": date(2020, 1, 1)})))
    harvest_env.start_worker()

    output = harvest(harvest_env, "--oai", url, "--from", "2024/01/01", "--until", "2024/12/31")

    assert counts(output) == (0, 0, 0, 0, 0, 0, 0)
    assert HarvestRun.objects.get().status == RunStatus.SUCCEEDED
    assert not Guideline.objects.exists()


def test_bad_resumption_token_fails_the_run_with_the_reason_and_keeps_the_pages_stored(harvest_env, server) -> None:
    repository = OaiRepository(_records({f"t{n}": date(2024, 2, n) for n in range(1, 6)}), page_size=2)

    def forgetful(params: dict[str, str]) -> Reply:
        reply = repository(params)
        repository.tokens.clear()  # the server restarted and forgot every token it handed out
        return reply

    url = server.add("/oai", forgetful)
    harvest_env.start_worker()

    output = harvest(harvest_env, "--oai", url, ok=False)

    assert counts(output) == (2, 2, 0, 0, 0, 0, 1)
    run = HarvestRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert any("badResumptionToken" in entry["error"] for entry in run.errors), run.errors
    assert Guideline.objects.count() == 2


@pytest.mark.slow
def test_503_and_a_dropped_connection_are_retried_on_redis(redis_harvest_env, server) -> None:
    url = server.add("/oai", OaiRepository(_records({f"r{n}": date(2024, 3, n) for n in range(1, 4)}), page_size=2))
    server.inject("/oai", "503")
    server.inject("/oai", "drop")
    redis_harvest_env.start_worker()

    output = harvest(redis_harvest_env, "--oai", url)

    assert counts(output) == (3, 3, 0, 0, 0, 0, 0)
    statuses = [request.status for request in server.requests_to("/oai")]
    assert statuses == [503, 0, 200, 200]
    assert HarvestRun.objects.get().items.get(key__startswith="oai:first").attempts == 3


@pytest.mark.shared_data
def test_recorded_four_page_harvest_follows_every_resumption_token(harvest_env, server, shared_data) -> None:
    pages = [(shared_data / OAI_DIR / name).read_bytes() for name in FOUR_PAGES]
    tokens = [re.search(rb">([^<]+)</resumptionToken>", page) for page in pages[:3]]

    def replay(params: dict[str, str]) -> Reply:
        token = params.get("resumptionToken")
        if token is None:
            return Reply(pages[0])
        index = [found.group(1).decode() for found in tokens if found].index(token)
        return Reply(pages[index + 1])

    url = server.add("/oai", replay)
    harvest_env.start_worker()

    output = harvest(harvest_env, "--oai", url, "--prefix", "nsdl_dc", "--from", "2012/07/26")

    # Headers without metadata: paged through and counted on each page, nothing to store.
    assert counts(output) == (0, 0, 0, 0, 0, 0, 0)
    run = HarvestRun.objects.get()
    assert (run.found, run.status) == (733, RunStatus.SUCCEEDED)
    pages = run.items.filter(kind=ItemKind.OAI_PAGE, status=ItemStatus.DONE).order_by("sequence")
    assert [page.payload["identifiers"] for page in pages] == [200, 200, 200, 133]
    tokens_asked = [request.params.get("resumptionToken") for request in server.requests_to("/oai")]
    assert tokens_asked == [None, *[found.group(1).decode() for found in tokens if found]]


@pytest.mark.shared_data
def test_recorded_list_records_with_deleted_records(harvest_env, server, shared_data) -> None:
    body = (shared_data / OAI_DIR / "infrae__pyoai__src--oaipmh--tests--fake2--00002.xml").read_bytes()
    url = server.add("/oai", Reply(body))
    harvest_env.start_worker()

    output = harvest(harvest_env, "--oai", url, "--from", "2004/01/01", "--issuer", "Erasmus University")

    # 81 records: 79 live, two deleted ones never stored here (read, nothing to tombstone). Three
    # live records are one guideline (same title, same year): one new, two of them aliases.
    assert counts(output) == (81, 77, 0, 2, 0, 0, 0)
    assert Guideline.objects.count() == 77
    assert not Guideline.objects.filter(issuer="").exists()


@pytest.mark.slow
def test_worker_killed_mid_run_resumes_without_loss_or_duplicates(redis_harvest_env, server) -> None:
    repository = OaiRepository(
        _records({f"k{n}": date(2024, 4, 1) + timedelta(days=n) for n in range(30)}), page_size=1
    )

    def slow(params: dict[str, str]) -> Reply:
        time.sleep(0.15)
        return repository(params)

    url = server.add("/oai", slow)
    worker = redis_harvest_env.start_worker()
    waiting = subprocess.Popen(
        [sys.executable, "manage.py", "harvest_guidelines", "--oai", url, "--wait", "--stall-seconds", "4"],
        cwd=REPO_ROOT,
        env=redis_harvest_env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        run = None
        while time.monotonic() < deadline:
            run = HarvestRun.objects.first()
            if run and run.items.filter(status=ItemStatus.DONE).count() >= 5:
                break
            time.sleep(0.05)
        assert run is not None
        worker.kill()
        assert run.items.filter(status=ItemStatus.DONE).count() < 30, "the run finished before the kill"
        redis_harvest_env.start_worker("w2")
        output, _ = waiting.communicate(timeout=180)
    finally:
        if waiting.poll() is None:
            waiting.kill()

    assert waiting.returncode == 0, output
    assert counts(output) == (30, 30, 0, 0, 0, 0, 0)
    assert Guideline.objects.count() == 30
    run = HarvestRun.objects.get()
    assert run.items.count() == 30 and not run.items.exclude(status=ItemStatus.DONE).exists()


# --- feeds --------------------------------------------------------------------------------------


def _rss(server: GuidelineServer, entries: list[tuple[str, str]]) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{server.url(path)}</link><guid>{server.url(path)}</guid>"
        "<pubDate>Tue, 04 Mar 2025 09:00:00 GMT</pubDate><description>New guidance</description></item>"
        for title, path in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Example guidance</title>'
        f"<link>{server.base_url}</link><description>New guidance</description>{items}</channel></rss>"
    ).encode()


def test_feed_imports_each_new_document_once_and_reports_bad_ones(redis_harvest_env, server) -> None:
    entries = [
        ("Hypertension in adults (HTML)", "/docs/hypertension.html"),
        ("Hypertension in pregnancy (PDF)", "/docs/pregnancy.pdf"),
        ("Scanned guideline", "/docs/scanned.pdf"),
        ("A very long guideline", "/docs/long.html"),
        ("Moved away", "/docs/gone.pdf"),
    ]
    server.add(entries[0][1], Reply(guideline_html("Hypertension in adults"), content_type="text/html"))
    server.add(entries[1][1], Reply(guideline_pdf("Hypertension in pregnancy"), content_type="application/pdf"))
    server.add(entries[2][1], Reply(scanned_pdf(), content_type="application/pdf"))
    server.add(entries[3][1], Reply(b"<html><body>" + b"<p>words</p>" * 3000 + b"</body></html>"))
    feed = server.add("/feed.xml", Reply(_rss(server, entries), content_type="application/rss+xml"))
    redis_harvest_env.env.update(GUIDELINE_MAX_BYTES="20000")
    redis_harvest_env.start_worker()

    output = harvest(redis_harvest_env, "--feed", feed, "--issuer", "Example Society", ok=False)

    # Three bad documents (no text layer, over the size limit, a 404), each reported; the rest stored.
    assert counts(output) == (2, 2, 0, 0, 0, 0, 3)
    assert "scanned.pdf: no text layer, OCR is not supported" in output
    assert "long.html: the file is 36026 bytes, over the limit of 20000" in output
    assert "gone.pdf: HTTP 404" in output
    stored = Guideline.objects.order_by("title")
    assert [g.title for g in stored] == [entries[0][0], entries[1][0]]
    assert all(g.issuer == "Example Society" and g.year == 2025 for g in stored)
    assert guideline_records(kind="recommendation") == 4
    assert not EvidenceRecord.objects.filter(abstract__contains="never run").exists()

    output = harvest(redis_harvest_env, "--feed", feed, "--issuer", "Example Society", ok=False)

    # Documents already stored are not fetched again; the bad ones are tried again.
    assert counts(output) == (2, 0, 0, 2, 0, 0, 3)
    assert len(server.requests_to(entries[0][1])) == 1 and len(server.requests_to(entries[1][1])) == 1
    assert len(server.requests_to(entries[2][1])) == 2


def test_feed_that_is_html_not_xml_fails_with_the_reason(harvest_env, server) -> None:
    feed = server.add("/feed", Reply(b"<!DOCTYPE html><html><body>Sign in</body></html>", content_type="text/html"))
    harvest_env.start_worker()

    output = harvest(harvest_env, "--feed", feed, ok=False)

    assert counts(output) == (0, 0, 0, 0, 0, 0, 1)
    assert "returned an HTML page, not an RSS or Atom feed" in output


# --- USPSTF -------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_uspstf_json_over_http_then_from_the_file_stores_each_topic_once(harvest_env, server, shared_data) -> None:
    from ingest.guidelines.uspstf import parse_uspstf

    path = shared_data / "guidelines" / "uspstf_specific_recommendations.json"
    topics = parse_uspstf(path.read_bytes())
    recommendations = sum(len(topic.recommendations) for topic in topics)
    url = server.add("/api/uspstf.json", Reply(path.read_bytes(), content_type="application/json"))
    harvest_env.start_worker()

    output = harvest(harvest_env, "--uspstf", url)

    assert counts(output) == (len(topics), len(topics), 0, 0, 0, 0, 0)
    assert guideline_records(kind="recommendation") == recommendations == 137
    assert HarvestRun.objects.get().found == len(topics)

    output = harvest(harvest_env, "--uspstf", str(path))

    assert counts(output) == (len(topics), 0, 0, len(topics), 0, 0, 0)
    assert Guideline.objects.count() == len(topics)
