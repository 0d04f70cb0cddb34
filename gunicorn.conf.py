"""gunicorn settings for production (the Dockerfile's command) and `make bench`."""

from __future__ import annotations

import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
# Page views are short: provider calls run on each worker's own bounded thread pool, not in requests.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No management socket in the home folder: several instances (and the tests) may run side by side.
control_socket_disable = True
