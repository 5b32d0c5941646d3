"""Production settings and start-up: check --deploy clean, secrets from files, one-line errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from evidence_portal.env import env_str
from tests.conftest import REPO_ROOT

SECRET = "production-secret-key-that-is-long-enough-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG"}
    }
    secret = tmp_path / "secret_key"
    secret.write_text(SECRET + "\n")
    env.update(
        DJANGO_SETTINGS_MODULE="evidence_portal.settings",
        EVIDENCE_DATA_DIR=str(tmp_path / "data"),
        SECRET_KEY_FILE=str(secret),
        HTTPS="true",
        ALLOWED_HOSTS="portal.example.org",
    )
    env.update(extra)
    return {key: value for key, value in env.items() if value != "<unset>"}


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_production_settings(tmp_path: Path) -> None:
    result = _manage(_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_served_without_https(tmp_path: Path) -> None:
    result = _manage(_env(tmp_path, HTTPS="false"), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr


def test_behind_the_proxy_responses_carry_the_security_headers(tmp_path: Path) -> None:
    script = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="portal.example.org")
plain = client.get("/healthz")
secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
cookie = secure.cookies.get("csrftoken")
print(json.dumps({
    "plain_status": plain.status_code, "plain_location": plain.get("Location"),
    "status": secure.status_code, "hsts": secure.get("Strict-Transport-Security"),
    "frame": secure.get("X-Frame-Options"), "referrer": secure.get("Referrer-Policy"),
    "cookie_secure": bool(cookie and cookie["secure"]), "cookie_httponly": bool(cookie and cookie["httponly"]),
}))
"""
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert _manage(env, "migrate", "--noinput").returncode == 0
    assert _manage(env, "collectstatic", "--noinput").returncode == 0
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain_status"] == 301 and seen["plain_location"] == "https://portal.example.org/healthz"
    assert seen["status"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains"
    assert seen["frame"] == "DENY"
    assert seen["referrer"] == "same-origin"
    assert seen["cookie_secure"] and seen["cookie_httponly"]


def test_a_secret_is_read_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    assert env_str("EMAIL_HOST_PASSWORD", "", environ={"EMAIL_HOST_PASSWORD_FILE": str(secret)}) == "s3cret"


def test_a_secret_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    with pytest.raises(ImproperlyConfigured, match=rf"^SECRET_KEY_FILE points at {missing}, which cannot be read"):
        env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(missing)})


def test_a_secret_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^SECRET_KEY and SECRET_KEY_FILE are both set: use one$"):
        env_str("SECRET_KEY", environ={"SECRET_KEY": "x", "SECRET_KEY_FILE": str(tmp_path)})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"SECRET_KEY_FILE": "<unset>"}, "Configuration error: SECRET_KEY is required but not set"),
        ({"DATABASE_URL": "mysql://user@db/evidence"}, "Configuration error: DATABASE_URL must start with sqlite://"),
        ({"DATABASE_URL": "postgres//no-scheme"}, "Configuration error: DATABASE_URL is not a database URL"),
    ],
    ids=["missing-secret", "unsupported-database", "not-a-url"],
)
def test_bad_settings_stop_start_up_with_one_line(tmp_path: Path, extra: dict[str, str], message: str) -> None:
    result = _manage(_env(tmp_path, **extra), "preflight")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr


def test_unreachable_postgresql_is_one_line_naming_it(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    env = _env(tmp_path, DATABASE_URL=f"postgres://evidence@127.0.0.1:{port}/evidence")
    for args in (("preflight",), ("migrate", "--noinput")):
        result = _manage(env, *args)
        assert result.returncode == 3, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"DATABASE_URL: cannot use PostgreSQL at 127.0.0.1:{port}/evidence" in lines[0]


def test_unreachable_redis_is_one_line_naming_it(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    result = _manage(env, "preflight")
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"CommandError: REDIS_URL: cannot reach Redis at 127.0.0.1:{port}: "
        f"Error 111 connecting to 127.0.0.1:{port}. Connection refused."
    ]


def test_preflight_passes_when_every_service_answers(tmp_path: Path, redis_url: str) -> None:
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=redis_url)
    result = _manage(env, "preflight")
    assert result.returncode == 0, result.stderr
    assert "database, broker and search backend answer" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "celery", "-A", "evidence_portal", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        ["-m", "gunicorn", "evidence_portal.wsgi", "--config", "python:evidence_portal.gunicorn_conf", "--bind"],
    ],
    ids=["celery-worker", "gunicorn"],
)
def test_a_worker_or_gunicorn_with_redis_down_stops_with_one_line(tmp_path: Path, command: list[str]) -> None:
    port = _free_port()  # nothing listens there
    if command[-1] == "--bind":
        command = [*command, f"127.0.0.1:{_free_port()}"]
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    result = subprocess.run(
        [sys.executable, *command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stderr[-2000:]
    expected = f"REDIS_URL: cannot reach Redis at 127.0.0.1:{port}: Error 111 connecting to 127.0.0.1:{port}."
    assert [line for line in result.stderr.splitlines() if "not started: " in line] == [
        f"{'gunicorn' if 'gunicorn' in command[1] else 'Celery worker'} not started: {expected} Connection refused."
    ]
