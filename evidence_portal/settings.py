"""Django settings for Evidence Portal, read from the environment.

Every variable is documented in README.md (a test checks that) and listed in .env.example.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from evidence_portal.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_path,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-deploy" if DEBUG else None)
if not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters when DEBUG is false")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

# Every piece of local state lives under one folder, so one variable relocates it all.
EVIDENCE_DATA_DIR = env_path("EVIDENCE_DATA_DIR", Path("var"), base=BASE_DIR)

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{EVIDENCE_DATA_DIR / 'evidence.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
except ValueError as error:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL we understand: {error}") from None
if DATABASES["default"]["ENGINE"] not in ("django.db.backends.sqlite3", "django.db.backends.postgresql"):
    raise ImproperlyConfigured("DATABASE_URL must start with sqlite:// or postgres:// (the two supported databases)")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when the server is unreachable instead of hanging on a dead address.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE avoids lock upgrades.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "evidence_portal.apps.EvidencePortalConfig",
    "records",
    "ingest",
    "search",
    "portal",
    "curation",
    "guidelines",
    "django_celery_beat",
    "operations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "evidence_portal.security.ContentSecurityPolicyMiddleware",
    "evidence_portal.privacy.QueryPrivacyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Language: the remembered switch (cookie), else the browser's Accept-Language, else English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: refuses sign-ins from a locked-out client.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "evidence_portal.urls"
WSGI_APPLICATION = "evidence_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = EVIDENCE_DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT failed attempts for one user name
# from one address, sign-in is refused for LOGIN_LOCKOUT_MINUTES. The lockout page and the
# failure message are the same whether or not the account exists.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not recorded (docs/privacy.md)
AXES_VERBOSE = False
# Password reset links: single use (the token is bound to the password hash and last sign-in)
# and valid for this many seconds.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=60)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "evidence-portal@localhost")
# Used by the SMTP backend only.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# --- Search -----------------------------------------------------------------------------------
SEARCH_BACKEND = env_choice("SEARCH_BACKEND", "embedded", ("embedded", "elasticsearch"))
ELASTICSEARCH_URL = env_url("ELASTICSEARCH_URL", None, ("http", "https"))
ELASTICSEARCH_API_KEY = env_optional("ELASTICSEARCH_API_KEY")
ELASTICSEARCH_CA_CERTS = env_optional("ELASTICSEARCH_CA_CERTS")
if SEARCH_BACKEND == "elasticsearch" and not ELASTICSEARCH_URL:
    raise ImproperlyConfigured("ELASTICSEARCH_URL is required when SEARCH_BACKEND is elasticsearch")

SEARCH_INDEX_DIR = EVIDENCE_DATA_DIR / "index"
SEARCH_BACKENDS = {
    "embedded": {
        "BACKEND": "search.backends.embedded.EmbeddedBackend",
        "OPTIONS": {"path": str(SEARCH_INDEX_DIR)},
    },
    "elasticsearch": {
        "BACKEND": "search.backends.elastic.ElasticsearchBackend",
        "OPTIONS": {
            "url": ELASTICSEARCH_URL,
            "api_key": ELASTICSEARCH_API_KEY,
            "ca_certs": ELASTICSEARCH_CA_CERTS,
            "index_prefix": env_str("ELASTICSEARCH_INDEX_PREFIX", "evidence"),
            "knn_candidate_factor": env_float("ELASTICSEARCH_KNN_CANDIDATE_FACTOR", 5.0),
        },
    },
}
SEARCH_DEFAULT_BACKEND = SEARCH_BACKEND
SEARCH_CANDIDATES = env_int("SEARCH_CANDIDATES", 200, minimum=10)
SEARCH_RRF_K = env_int("SEARCH_RRF_K", 60, minimum=1)
SEARCH_EVIDENCE_WEIGHT = env_float("SEARCH_EVIDENCE_WEIGHT", 0.15)
SEARCH_RECENCY_WEIGHT = env_float("SEARCH_RECENCY_WEIGHT", 0.05)
SEARCH_FUSION = env_choice("SEARCH_FUSION", "linear", ("linear", "rrf"))
SEARCH_LEXICAL_WEIGHT = env_float("SEARCH_LEXICAL_WEIGHT", 0.55)
# Below this cosine, a query with no lexical match shows "nothing relevant found" (docs/search.md).
SEARCH_MIN_VECTOR_SIMILARITY = env_float("SEARCH_MIN_VECTOR_SIMILARITY", 0.30)
SEARCH_TITLE_REPEAT = env_int("SEARCH_TITLE_REPEAT", 2, minimum=1)
SEARCH_ANN_THRESHOLD = env_int("SEARCH_ANN_THRESHOLD", 50_000, minimum=1)

EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 32, minimum=1)
EMBEDDING_MAX_TOKENS = env_int("EMBEDDING_MAX_TOKENS", 256, minimum=16)
EMBEDDING_RUNTIME = env_choice("EMBEDDING_RUNTIME", "onnx", ("onnx", "onnx-int8", "torch"))
EMBEDDING_CACHE_DIR = env_path("EMBEDDING_CACHE_DIR", EVIDENCE_DATA_DIR / "cache" / "embeddings", base=BASE_DIR)

# --- Harvesting ---------------------------------------------------------------------------------
NCBI_EMAIL = env_optional("NCBI_EMAIL")
NCBI_API_KEY = env_optional("NCBI_API_KEY")
NCBI_TOOL = env_str("NCBI_TOOL", "evidence-portal")
EUTILS_BASE_URL = env_url("EUTILS_BASE_URL", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/", ("http", "https"))
EVIDENCE_SEED = env_optional("EVIDENCE_SEED")
EVIDENCE_GUIDELINE_SEED = env_optional("EVIDENCE_GUIDELINE_SEED")
DESIGN_CLASSIFIER_RETRAIN_AFTER = env_int("DESIGN_CLASSIFIER_RETRAIN_AFTER", 5000, minimum=1)
# Lowest calibrated probability of a design for the classifier to predict it (below: unknown).
# Empty: the trained model's own threshold, chosen on held-back records at training.
EVIDENCE_PREDICTION_THRESHOLD: float | None = (
    None
    if not (env_optional("EVIDENCE_PREDICTION_THRESHOLD") or "").strip()
    else env_float("EVIDENCE_PREDICTION_THRESHOLD", 0.0)
)
if EVIDENCE_PREDICTION_THRESHOLD is not None and not 0.0 < EVIDENCE_PREDICTION_THRESHOLD <= 1.0:
    raise ImproperlyConfigured(f"EVIDENCE_PREDICTION_THRESHOLD must be in (0, 1], got {EVIDENCE_PREDICTION_THRESHOLD}")
# Harvest tuning (ingest): request timeout, PMIDs per efetch, retries of transient failures
# (429, 5xx, timeouts, truncated bodies) with exponential backoff, an explicit shared request
# rate (0 = NCBI's 3/s, or 10/s with an API key) and how long `--wait` waits before it
# re-enqueues the pending work of a run that stopped moving (a killed worker).
EUTILS_TIMEOUT = env_float("EUTILS_TIMEOUT", 60.0)
EUTILS_BATCH_SIZE = env_int("EUTILS_BATCH_SIZE", 200, minimum=1)
EUTILS_MAX_RETRIES = env_int("EUTILS_MAX_RETRIES", 8)
EUTILS_RETRY_BASE_SECONDS = env_float("EUTILS_RETRY_BASE_SECONDS", 2.0)
EUTILS_RATE_LIMIT = env_float("EUTILS_RATE_LIMIT", 0.0)
INGEST_STALL_SECONDS = env_float("INGEST_STALL_SECONDS", 120.0)
# Stages stored records are handed to (ingest.pipeline): grade, index, embed.
INGEST_HANDOFF_STAGES = env_list("INGEST_HANDOFF_STAGES", ["guidelines", "grade", "index", "embed"])
# Largest guideline file or download a reader accepts (bytes, after gunzip); larger ones are
# reported as a problem, never read.
GUIDELINE_MAX_BYTES = env_int("GUIDELINE_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", None, ("redis", "rediss", "unix"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Without Redis the broker lives in the same PostgreSQL database (Kombu's SQLAlchemy transport).
    _default_broker = "sqla+postgresql+psycopg://" + DATABASE_URL.split("://", 1)[1]
else:
    _default_broker = f"sqla+sqlite:///{EVIDENCE_DATA_DIR / 'celery-broker.sqlite3'}"
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    REDIS_URL or _default_broker,
    ("redis", "rediss", "unix", "sqla+sqlite", "sqla+postgresql", "sqla+postgresql+psycopg", "amqp", "filesystem"),
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Cold shutdown (SIGQUIT, or SIGTERM with REMAP_SIGTERM=SIGQUIT as `make run` starts the worker):
# running tasks get this long to finish, then their messages go back to the broker.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 3.0
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Periodic work, run by the beat scheduler `make run` embeds in its worker (`celery worker -B`).
# Schedules live in the database (django-celery-beat), editable on /ops/sources/; the entries
# below are synced into it at beat start.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "purge-query-log": {"task": "portal.purge_query_log", "schedule": 24 * 3600.0},
    "operations-watch-jobs": {"task": "operations.watch_jobs", "schedule": 30.0},
}
# Named queues, so a backfill of embeddings never waits in front of a doctor's alerts. A worker
# started without -Q consumes them all (`make run`); production runs one pool per queue
# (docs/deployment.md). Routes go by task-name prefix, in order; a new task lands on "ingest".
CELERY_QUEUE_NAMES = ("harvest", "ingest", "embed", "alerts", "admin")
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in CELERY_QUEUE_NAMES]
CELERY_TASK_DEFAULT_QUEUE = "ingest"
CELERY_TASK_ROUTES = {
    "ingest.pubmed.*": {"queue": "harvest"},  # E-utilities calls under the shared NCBI rate limit
    "ingest.guidelines.*": {"queue": "harvest"},  # guideline sites: network-bound, polite
    "ingest.resume_runs": {"queue": "harvest"},
    "search.embed*": {"queue": "embed"},  # CPU/GPU-heavy; can run on a GPU host
    "curation.*": {"queue": "alerts"},
    "operations.*": {"queue": "admin"},
    "portal.*": {"queue": "admin"},  # housekeeping (purging the query log)
    "records.regrade_all": {"queue": "admin"},
    "records.retrain_design_classifier": {"queue": "admin"},
    "*": {"queue": "ingest"},  # loading files, grading, text indexing, and anything new
}
# Saved-search alerts also run hourly, not only after a harvest, so records loaded from files
# or edited by hand reach them too (idempotent).
CELERY_BEAT_SCHEDULE["compute-alerts"] = {"task": "curation.compute_alerts", "schedule": 3600.0}

# --- Deployment: HTTPS behind a reverse proxy (docs/deployment.md) ---------------------------------
# HTTPS=true when a TLS proxy (deploy/nginx.conf) sets X-Forwarded-Proto and X-Forwarded-For:
# secure cookies, redirect to https, HSTS, and the client address taken from the proxy's header.
# The content security policy and X-Content-Type-Options are set with the other response headers.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # no script reads the token from the cookie; forms carry it
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000)
HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = HSTS_PRELOAD
    NINJA_NUM_PROXIES = 1  # the API rate limit keys on the address nginx saw, not a forged header
    # Content-hashed static file names (collectstatic is part of a deployment), which WhiteNoise
    # serves with a ten-year immutable Cache-Control; `make run` and the tests keep plain names.
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
# Joining the browsers' preload list binds the whole domain for months: the operator opts in.
SILENCED_SYSTEM_CHECKS = [] if HSTS_PRELOAD else ["security.W021"]

# --- Operations ---------------------------------------------------------------------------------
# A running job (or a worker) silent for this long counts as dead: its job is failed with the
# reason, its lock released, its partial generation dropped.
OPS_HEARTBEAT_TIMEOUT = env_float("OPS_HEARTBEAT_TIMEOUT", 60.0)

# --- Portal -------------------------------------------------------------------------------------
PORTAL_API_RATE = env_str("PORTAL_API_RATE", "600/m")
_rate_count, _, _rate_period = PORTAL_API_RATE.partition("/")
if not _rate_count.isdigit() or _rate_period not in {"s", "sec", "m", "min", "h", "hour", "d", "day"}:
    raise ImproperlyConfigured("PORTAL_API_RATE must look like 600/m (requests per s, m, h or d)")

# Query analytics (docs/privacy.md): off by default; when on, scrubbed queries are kept this long.
QUERY_ANALYTICS = env_bool("QUERY_ANALYTICS", False)
QUERY_ANALYTICS_RETENTION_DAYS = env_int("QUERY_ANALYTICS_RETENTION_DAYS", 30, minimum=1)

# No query text in any log or error report (docs/privacy.md): the handlers scrub it.
DEFAULT_EXCEPTION_REPORTER = "evidence_portal.privacy.ScrubbingExceptionReporter"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_query_text": {"()": "evidence_portal.privacy.QueryScrubFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["no_query_text"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Guidelines: a guideline older than this many years says so on its cards and page.
GUIDELINE_STALE_YEARS = env_int("GUIDELINE_STALE_YEARS", 5)
