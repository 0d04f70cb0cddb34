"""The rule for untrusted text (lib/untrusted_text.py), applied to every request before anything reads it.

The path, the query string and form fields are checked before any view, the admin or a library (the sign-in
throttle records what it is sent) sees them; a request that breaks the rule is answered in the page's own format (playground/errors.py): 404 for
a path, 400 for a field, 413 for a body over `DATA_UPLOAD_MAX_MEMORY_SIZE`. A cookie that breaks the rule is
dropped, as if it had not been sent.

Forms decode URLs and bodies with errors replaced, so NUL is what usually arrives; a multipart body that declares
a charset such as `unicode_escape` can carry lone surrogates too, which is why the rule runs on decoded values.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils.decorators import sync_and_async_middleware

from generations.domain import ErrorCode
from lib.untrusted_text import text_problem
from playground.errors import error_response


@sync_and_async_middleware
def untrusted_input_middleware(get_response):
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            return _refusal(request) or await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        return _refusal(request) or get_response(request)

    return middleware


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request that breaks the rule, or None to let it through."""
    if text_problem(request.path) is not None:
        return error_response(request, ErrorCode.NOT_FOUND, "This address does not lead to a page.")
    for name in [name for name, value in request.COOKIES.items() if text_problem(value) is not None]:
        del request.COOKIES[name]
    try:
        # The body's size first (it is read whole anyway), then the fields parsed from it.
        request.body  # noqa: B018
        for place, fields in (("query string", request.GET), ("form", request.POST), ("file", request.FILES)):
            for name, values in fields.lists():
                if problem := text_problem(name):
                    return error_response(
                        request, ErrorCode.INVALID_TEXT, f"A {place} field's name {problem}."
                    )
                for value in values:
                    if problem := text_problem(value if isinstance(value, str) else value.name or ""):
                        return error_response(
                            request,
                            ErrorCode.INVALID_TEXT,
                            f"The {place} field `{name}` {problem}.",
                            param=name,
                        )
    except RequestDataTooBig:
        return error_response(
            request,
            ErrorCode.REQUEST_TOO_LARGE,
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
        )
    except (SuspiciousOperation, BadRequest, MultiPartParserError, UnreadablePostError):
        # Too many fields, a form body that is not UTF-8, a broken multipart body, a client that went away.
        return error_response(request, ErrorCode.INVALID_BODY, "The request body cannot be read as a form.")
    return None
