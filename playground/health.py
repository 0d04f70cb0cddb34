"""`/healthz` for load balancers and Docker: is the database answering, and can images be stored?"""

from __future__ import annotations

import logging
import socket

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


class HealthCheckMiddleware:
    """Answers /healthz before host validation, so probes may use any address (Docker uses 127.0.0.1)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return health(request)
        return self.get_response(request)


def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database, "storage": _check_storage}
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as err:
            logger.exception("health check %s failed", name)
            results[name] = f"failing: {type(err).__name__}"
    healthy = all(result == "ok" for result in results.values())
    return JsonResponse(results, status=200 if healthy else 503)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_storage() -> None:
    name = default_storage.save(f"healthz/{socket.gethostname()}.txt", ContentFile(b"ok"))
    try:
        with default_storage.open(name) as file:
            assert file.read() == b"ok"
    finally:
        default_storage.delete(name)
