"""Settings for the test suite: the real settings module, with a throwaway data dir."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("EVIDENCE_DATA_DIR", tempfile.mkdtemp(prefix="evidence-test-"))

from evidence_portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
