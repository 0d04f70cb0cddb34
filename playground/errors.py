"""Error answers in the format of the page asked for: the site's own pages, or OpenAI-shaped JSON under /v1/.

Django's handlers for 400, 404 and 500 (playground/urls.py) come here too, so an API client never parses HTML.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import defaults

from generations.api import ApiError, api_error_response

API_PREFIX = "/v1/"
_TEMPLATES = {404: "404.html"}


def error_response(
    request: HttpRequest, status: int, message: str, *, code: str, param: str | None = None
) -> HttpResponse:
    if is_api_request(request):
        return api_error_response(ApiError(status, message, code=code, param=param))
    return render(request, _TEMPLATES.get(status, "400.html"), {"message": message}, status=status)


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_response(request, 400, "This request could not be read.", code="bad_request")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return error_response(request, 404, "There is no such endpoint.", code="not_found")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        message = "The playground failed to answer this request; try again in a moment."
        return api_error_response(ApiError(500, message, code="server_error"))
    return defaults.server_error(request)
