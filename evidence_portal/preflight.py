"""Start-up checks of the services a deployment names: the database, Redis, the broker, the search
backend. Each problem is one line naming the setting, so a process manager's log says what to fix.

``manage.py preflight`` runs them (the production start scripts call it before they start
anything); gunicorn (``evidence_portal/gunicorn_conf.py``) and every Celery worker
(``evidence_portal/celery.py``) run them at start-up and stop with those lines instead of
starting half-configured; ``manage.py`` itself turns a database that cannot be reached into the
same kind of line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections

TIMEOUT_SECONDS = 5.0


def where(url: str) -> str:
    """Return ``host:port`` of a URL (never its credentials), or the URL's scheme for a socket."""
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return f"{parts.scheme} {parts.path}".strip()


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def database_problem(alias: str = "default") -> str | None:
    """Return a one-line problem when the database does not answer, else None."""
    connection = connections[alias]
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        return database_error_line(error, alias)
    return None


def database_error_line(error: BaseException, alias: str = "default") -> str:
    """Return the one-line message for a database connection error."""
    db = settings.DATABASES[alias]
    if db["ENGINE"].endswith("postgresql"):
        target = f"PostgreSQL at {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db.get('NAME')}"
    else:
        target = f"SQLite file {db.get('NAME')}"
    return f"DATABASE_URL: cannot use {target}: {first_line(error)}"


def redis_problem(name: str, url: str) -> str | None:
    """Return a one-line problem when the Redis at ``url`` does not answer PING, else None."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)
        client.ping()
        client.close()
    except Exception as error:
        return f"{name}: cannot reach Redis at {where(url)}: {first_line(error)}"
    return None


def broker_problem() -> str | None:
    """Return a one-line problem when the Celery broker cannot be reached, else None."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return None if url == settings.REDIS_URL else redis_problem("CELERY_BROKER_URL", url)
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=TIMEOUT_SECONDS) as broker:
            broker.ensure_connection(max_retries=1)
    except Exception as error:
        return f"CELERY_BROKER_URL: cannot reach the broker at {where(url)}: {first_line(error)}"
    return None


def search_problem() -> str | None:
    """Return a one-line problem when the Elasticsearch backend is configured and down, else None."""
    if settings.SEARCH_DEFAULT_BACKEND != "elasticsearch":
        return None
    from search.backends import get_backend

    health = get_backend().health()
    if health.ok:
        return None
    return f"ELASTICSEARCH_URL: cannot use Elasticsearch at {where(str(settings.ELASTICSEARCH_URL))}: {health.detail}"


def problems() -> list[str]:
    """Return every start-up problem found, one line each (empty when all services answer)."""
    checks: list[Callable[[], str | None]] = [database_problem]
    if settings.REDIS_URL:
        checks.append(lambda: redis_problem("REDIS_URL", str(settings.REDIS_URL)))
    checks += [broker_problem, search_problem]
    return [problem for check in checks if (problem := check())]


def exit_on_problems(process: str) -> None:
    """Write every start-up problem to stderr, one line each, and exit 3; return when there is none."""
    found = problems()
    if found:
        for line in found:
            sys.stderr.write(f"{process} not started: {line}\n")
        sys.stderr.flush()
        raise SystemExit(3)
