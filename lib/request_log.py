"""A request id on every log line (taken from X-Request-ID when a proxy sets one) and on every response."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[\w.-]{1,64}$")


@sync_and_async_middleware
def request_id_middleware(get_response):
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            token = _start(request)
            try:
                return _finish(await get_response(request))
            finally:
                request_id.reset(token)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        token = _start(request)
        try:
            return _finish(get_response(request))
        finally:
            request_id.reset(token)

    return middleware


def _start(request: HttpRequest) -> contextvars.Token:
    incoming = request.headers.get("X-Request-ID", "")
    return request_id.set(incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex[:16])


def _finish(response: HttpResponse) -> HttpResponse:
    response["X-Request-ID"] = request_id.get()
    return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class AccessLogWithoutQuery(logging.Filter):
    """Cuts the query string from uvicorn's access log lines (`client - "METHOD path HTTP/v" status`).

    A token pasted into a URL (`/v1/models?api_key=...`) is refused, and must not be kept in a log either; so are
    search words. The path stays.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].partition("?")[0], *args[3:])
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
