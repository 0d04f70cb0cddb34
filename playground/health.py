"""Probes for load balancers and orchestrators, answered before host validation (probes use any address).

- `/healthz` (liveness): the process answers; no I/O, so a slow database never gets a live process restarted.
- `/readyz` (readiness): the database answers, stored images can be read, and the job queue is reachable. It
  reads only: an anonymous probe never writes anything.
"""

from __future__ import annotations

import logging

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.decorators import sync_and_async_middleware

logger = logging.getLogger(__name__)

PROBE_METHODS = ("GET", "HEAD")


@sync_and_async_middleware
def health_check_middleware(get_response):
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            if request.path in PROBES:
                return await sync_to_async(_probe)(request)
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
    results = {}
    for name, check in (("database", _check_database), ("storage", _check_storage), ("queue", _check_queue)):
        try:
            check()
            results[name] = "ok"
        except Exception as err:
            logger.exception("readiness check %s failed", name)
            results[name] = f"failing: {type(err).__name__}"
    ready = all(result == "ok" for result in results.values())
    return JsonResponse(results, status=200 if ready else 503)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_storage() -> None:
    default_storage.exists("images/")


def _check_queue() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM procrastinate_jobs LIMIT 1")


PROBES = {"/healthz": _liveness, "/readyz": _readiness}
