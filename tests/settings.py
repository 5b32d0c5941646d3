"""Settings for the test suite: the real settings module, with a throwaway data dir."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-that-is-long-enough-0123456789")
if "EVIDENCE_DATA_DIR" not in os.environ:
    # Made by the process that runs the tests; the workers it starts inherit it. Removed at exit.
    os.environ["EVIDENCE_DATA_DIR"] = tempfile.mkdtemp(prefix="evidence-test-")
    atexit.register(shutil.rmtree, os.environ["EVIDENCE_DATA_DIR"], ignore_errors=True)

from evidence_portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A file, not memory: tests that start real Celery worker processes (tests/workers.py) hand the
# same test database to the worker through DATABASE_URL.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(os.environ["EVIDENCE_DATA_DIR"], "test-database.sqlite3")}  # noqa: F405
