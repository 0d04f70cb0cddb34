"""Error answers in the format of the page asked for: the site's own pages, or OpenAI-shaped JSON under /v1/.

Django's handlers for 400, 403, 404 and 500 (playground/urls.py) come here too, so an API client never parses HTML.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import defaults

from generations.api import ApiError, api_error_response
from generations.domain import ErrorCode

API_PREFIX = "/v1/"
_TEMPLATES = {404: "404.html"}


def error_response(
    request: HttpRequest, code: ErrorCode, message: str, *, param: str | None = None
) -> HttpResponse:
    if is_api_request(request):
        return api_error_response(ApiError(code, message, param=param))
    status = code.http_status
    return render(request, _TEMPLATES.get(status, "400.html"), {"message": message}, status=status)


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_response(request, ErrorCode.BAD_REQUEST, "This request could not be read.")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return error_response(request, ErrorCode.NOT_FOUND, "There is no such endpoint.")
    return defaults.page_not_found(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return error_response(request, ErrorCode.PERMISSION_DENIED, str(exception) or "Not allowed.")
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        message = "The playground failed to answer this request; try again in a moment."
        return api_error_response(ApiError(ErrorCode.SERVER_ERROR, message))
    return defaults.server_error(request)
