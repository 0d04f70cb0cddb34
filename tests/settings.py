"""Settings for the test suite: the project's own settings with test-only secrets and plain static files."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("ZIMAGE_DEMO_LATENCY_S", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

from playground.settings import *  # noqa: F403

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Static files straight from the app folders, as under runserver: no collectstatic before the tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Specs that are about signing in turn this on themselves.
REQUIRE_LOGIN = False
