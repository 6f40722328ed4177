"""Settings for the test suite: SQLite by default, PostgreSQL when ORGWARDEN_TEST_DATABASE_URL is set."""

import os
import tempfile

os.environ.setdefault("ORGWARDEN_DATA_DIR", tempfile.mkdtemp(prefix="orgwarden-test-"))
os.environ.setdefault("ORGWARDEN_SECRET_KEY", "test-secret-key-that-is-long-enough-for-django-0123")

import dj_database_url

from orgwarden.settings import *  # noqa: F403
from orgwarden.settings import DATABASES, database_settings

_test_url = os.environ.get("ORGWARDEN_TEST_DATABASE_URL", "").strip()
if _test_url:
    DATABASES["default"] = database_settings(dj_database_url.parse(_test_url, conn_max_age=0))
else:
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(os.environ["ORGWARDEN_DATA_DIR"], "test.sqlite3"),
        "TEST": {"NAME": os.path.join(os.environ["ORGWARDEN_DATA_DIR"], "test-db.sqlite3")},
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }

# Same algorithm (argon2id), cheap parameters: the production parameters are pinned by a test.
PASSWORD_HASHERS = ["orgwarden.accounts.hashers.FastArgon2idHasherForTests"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
BASE_URL = "http://testserver"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
