"""gunicorn settings for production (the Dockerfile's command) and `make bench`."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

bind = os.environ.get("BIND", "0.0.0.0:8000")
# ASGI through uvicorn's worker: the API's waiting calls and the live streams hold no thread, and page views
# (sync) run in threads of their own. Provider calls never run here: they are the job workers' (bin/worker).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No management socket in the home folder: several instances (and the tests) may run side by side.
control_socket_disable = True


# How often a worker checks that its master still runs.
MASTER_CHECK_S = 1.0


def post_worker_init(worker) -> None:
    access_log_without_query_strings()
    threading.Thread(target=stop_when_orphaned, args=(worker.ppid,), name="master watch", daemon=True).start()


def access_log_without_query_strings() -> None:
    """Access log lines name the path only, never the query string (where a token may have been pasted)."""
    from lib.request_log import AccessLogWithoutQuery

    logging.getLogger("uvicorn.access").addFilter(AccessLogWithoutQuery())


def stop_when_orphaned(master_pid: int) -> None:
    """gunicorn's own workers notice a dead master, uvicorn's do not: after a kill -9 of the master they served
    on as orphans that no deploy would stop. SIGTERM is their graceful stop (requests under way finish)."""
    while os.getppid() == master_pid:
        time.sleep(MASTER_CHECK_S)
    logging.getLogger("gunicorn.error").warning("master %d is gone: this worker stops", master_pid)
    os.kill(os.getpid(), signal.SIGTERM)
