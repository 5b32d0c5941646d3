"""Query text stays out of logs and error reports; optional analytics stores it scrubbed."""

from __future__ import annotations

import logging
import sys
from datetime import date, timedelta
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory
from gunicorn.config import Config

from evidence_portal.celery import app as celery_app
from evidence_portal.gunicorn_conf import PrivateAccessLogger
from evidence_portal.privacy import (
    QueryPrivacyMiddleware,
    QueryScrubFilter,
    ScrubbingExceptionReporter,
    scrub_query_string,
)
from portal.analytics import query_log_purge, query_record, scrub_query_text
from portal.models import QueryLogEntry
from search.types import SearchRequest

# Spelled in two pieces so that the error report, which quotes this file's source, cannot hold it.
PATIENT = "pregnant 16 year old HIV positive"


def test_query_string_keeps_filters_and_hides_every_free_text_value() -> None:
    scrubbed = scrub_query_string("q=pregnant+HIV&population=teenagers&level=rct&page=2&sort=newest&unknown=x")
    assert scrubbed == "q=-&population=-&level=rct&page=2&sort=newest&unknown=-"


def test_gunicorn_access_log_line_has_no_query_text() -> None:
    logger = PrivateAccessLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/search?q=pregnant+16+year+old&level=rct",
        "PATH_INFO": "/search",
        "QUERY_STRING": "q=pregnant+16+year+old&level=rct",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_REFERER": "http://portal.example/search?intervention=insulin+for+Jane",
    }
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    response = SimpleNamespace(status="200 OK", sent=10, headers=[("Location", "/records/1?q=pregnant")])
    atoms = logger.atoms(response, request, environ, timedelta(seconds=0.1))
    line = logger.cfg.access_log_format % atoms
    assert "GET /search?q=-&level=rct HTTP/1.1" in line
    for value in atoms.values():
        assert "pregnant" not in str(value) and "insulin" not in str(value) and "Jane" not in str(value)


def test_log_records_of_a_request_never_hold_its_query_text() -> None:
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(QueryScrubFilter())
    log = logging.getLogger("tests.privacy")
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    def view(request: Any) -> Any:
        log.warning("search for %r failed", request.GET["q"])
        try:
            raise ValueError(f"cannot parse {request.GET['q']}")
        except ValueError:
            log.exception("backend error")
        log.info("GET /search?q=%s&page=2", request.GET["q"].replace(" ", "+"))
        return "ok"

    try:
        QueryPrivacyMiddleware(view)(RequestFactory().get("/search", {"q": PATIENT}))
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert "backend error" in output and "ValueError" in output and "[query]" in output
    assert PATIENT.split()[0] not in output and "16 year" not in output


def test_error_report_hides_the_query_text(settings: Any) -> None:
    request = RequestFactory().get("/search", {"q": PATIENT, "level": "rct"})
    query = request.GET["q"]
    try:
        raise RuntimeError(f"index exploded on {query}")
    except RuntimeError:
        reporter = ScrubbingExceptionReporter(request, *sys.exc_info())
        text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "index exploded on [query]" in text
    for report in (text, html):
        assert PATIENT.split()[0] not in report


def test_error_reports_use_the_scrubbing_reporter() -> None:
    assert django_settings.DEFAULT_EXCEPTION_REPORTER == "evidence_portal.privacy.ScrubbingExceptionReporter"
    console = django_settings.LOGGING["handlers"]["console"]
    assert "no_query_text" in console["filters"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pregnant 16 year old HIV positive", "pregnant [x] year old HIV positive"),
        ("Statins after MI, seen 3 March 2024 mail jo@example.org", "Statins after MI, seen [x] mail [x]"),
        ("insulin for Mrs Patel with diabetes", "insulin for [name] with diabetes"),
        ("John Smith crohn disease", "[name] [name] crohn disease"),
        ("metformin in Parkinson disease, asked by Jane", "metformin in Parkinson disease, asked by [name]"),
        ("Asthma in children", "Asthma in children"),
    ],
)
def test_analytics_text_is_scrubbed_of_numbers_dates_emails_and_names(text: str, expected: str) -> None:
    assert scrub_query_text(text) == expected


@pytest.mark.django_db
def test_no_query_is_stored_unless_analytics_is_on(settings: Any) -> None:
    settings.QUERY_ANALYTICS = False
    assert query_record(search_request=SearchRequest(text=PATIENT), results=3) is None
    assert not QueryLogEntry.objects.exists()


@pytest.mark.django_db
def test_stored_query_holds_no_address_user_or_time_of_day(settings: Any) -> None:
    settings.QUERY_ANALYTICS = True
    query_record(search_request=SearchRequest(text=PATIENT, population="women aged 30"), results=3)
    query_record(search_request=SearchRequest(text=PATIENT, page=2), results=3)  # paging: not a new search
    entry = QueryLogEntry.objects.get()
    assert entry.text == "pregnant [x] year old HIV positive"
    assert entry.pico == {"population": "women aged [x]"}
    assert {field.name for field in QueryLogEntry._meta.get_fields()} == {"id", "day", "text", "pico", "results"}


@pytest.mark.django_db
def test_purge_deletes_entries_past_the_retention_period(settings: Any) -> None:
    settings.QUERY_ANALYTICS_RETENTION_DAYS = 30
    today = date(2026, 5, 31)
    for age in (0, 30, 31, 400):
        QueryLogEntry.objects.create(day=today - timedelta(days=age), text=f"age {age}")
    assert query_log_purge(today=today) == 2
    assert sorted(QueryLogEntry.objects.values_list("text", flat=True)) == ["age 0", "age 30"]


def test_purge_runs_daily_from_the_beat_schedule() -> None:
    schedule = django_settings.CELERY_BEAT_SCHEDULE["purge-query-log"]
    assert schedule["task"] == "portal.purge_query_log" and schedule["schedule"] <= 24 * 3600
    celery_app.loader.import_default_modules()
    assert "portal.purge_query_log" in celery_app.tasks


def test_a_worker_s_log_handlers_drop_query_text(tmp_path: Any) -> None:
    """Celery sets up its own handlers at worker start (app.log.setup): they scrub like the web's."""
    import subprocess

    from tests.conftest import REPO_ROOT

    script = (
        "import logging\n"
        "from celery.utils.log import get_task_logger\n"
        "from evidence_portal.celery import app\n"
        "app.log.setup(loglevel='INFO')\n"
        "logging.getLogger('celery.worker').warning('GET /search?q=pregnant+16+year+old+HIV failed')\n"
        "get_task_logger('alerts').warning('GET /api/v1/search?q=pregnant+16+year+old&level=rct failed')\n"
    )
    env = {key: value for key, value in __import__("os").environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", EVIDENCE_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "/search?q=-" in output and "/api/v1/search?q=-&level=rct" in output, output
    assert "pregnant" not in output
