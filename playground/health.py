"""Probes for load balancers and orchestrators, answered before host validation (probes use any address).

- `/healthz` (liveness): the process answers; no I/O, so a slow database never gets a live process restarted.
- `/readyz` (readiness): the database answers, stored images can be read, and the job queue is reachable, all
  within READINESS_DEADLINE_S: a database that is away is a 503 in time for a probe's own timeout (it was 20 s
  behind the connection pool's waits). It also says whether a job worker heart-beat recently; that check is
  reported, not counted, because a web instance without workers still serves every page (alert on it, or on
  `zimage_workers` in /metrics). It reads only: an anonymous probe never writes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import psycopg
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from procrastinate.contrib.django.utils import connector_params

logger = logging.getLogger(__name__)

PROBE_METHODS = ("GET", "HEAD")
READINESS_DEADLINE_S = 1.5
# The readiness check's own connection, not the pool's (whose waits are for requests): short timeouts throughout.
PROBE_CONNECT_TIMEOUT_S = 1
PROBE_STATEMENT_TIMEOUT_MS = 1000
# Checks that decide readiness; "workers" is only reported.
READINESS_CHECKS = ("database", "storage", "queue")
REPORTED_CHECKS = (*READINESS_CHECKS, "workers")
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readiness")


@sync_and_async_middleware
def health_check_middleware(get_response):
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            if request.path in PROBES:
                # Not on the thread that runs the site's sync views: a busy site must not delay its probes.
                return await sync_to_async(_probe, thread_sensitive=False)(request)
            return await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path in PROBES:
            return _probe(request)
        return get_response(request)

    return middleware


def _probe(request: HttpRequest) -> HttpResponse:
    if request.method not in PROBE_METHODS:
        return HttpResponseNotAllowed(PROBE_METHODS)
    return PROBES[request.path]()


def _liveness() -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _readiness() -> JsonResponse:
    results: dict[str, str] = {}
    try:
        _checks.submit(_run_checks, results).result(timeout=READINESS_DEADLINE_S)
    except FutureTimeout:
        logger.warning("readiness checks still unanswered after %.1f s", READINESS_DEADLINE_S)
    answered = dict(results)  # the checks' thread may still be writing
    unanswered = f"failing: no answer within {READINESS_DEADLINE_S} s"
    reported = {name: answered.get(name, unanswered) for name in REPORTED_CHECKS}
    ready = all(reported[name] == "ok" for name in READINESS_CHECKS)
    return JsonResponse(reported, status=200 if ready else 503)


def _run_checks(results: dict[str, str]) -> None:
    _check(results, "storage", lambda: default_storage.exists("images/"))
    try:
        with psycopg.connect(**_probe_connection_params()) as database:
            results["database"] = "ok"
            _check(results, "queue", lambda: database.execute("SELECT 1 FROM procrastinate_jobs LIMIT 1"))
            _check(results, "workers", lambda: _some_worker_alive(database))
    except psycopg.Error as err:
        logger.warning("readiness check database failed: %s", err)
        results["database"] = f"failing: {type(err).__name__}"
        results.setdefault("queue", "failing: no database")
        results.setdefault("workers", "failing: no database")


def _check(results: dict[str, str], name: str, check: Callable[[], object]) -> None:
    try:
        check()
    except NoLiveWorker as err:
        results[name] = f"failing: {err}"
    except Exception as err:
        logger.exception("readiness check %s failed", name)
        results[name] = f"failing: {type(err).__name__}"
    else:
        results[name] = "ok"


class NoLiveWorker(Exception):
    pass


def _some_worker_alive(database: psycopg.Connection) -> None:
    alive_s = settings.WORKER_STALLED_AFTER_S
    [live] = database.execute(
        "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => %s)",
        [alive_s],
    ).fetchone() or [0]
    if not live:
        raise NoLiveWorker(f"no live worker (none heart-beat in the last {alive_s:.0f} s)")


def _probe_connection_params() -> dict:
    params = connector_params()
    options = f"{params.get('options', '')} -c statement_timeout={PROBE_STATEMENT_TIMEOUT_MS}".strip()
    return params | {
        "connect_timeout": PROBE_CONNECT_TIMEOUT_S,
        "options": options,
        "autocommit": True,
        "application_name": "readiness probe",
    }


PROBES = {"/healthz": _liveness, "/readyz": _readiness}
