"""The view kit that every view module of the app shares: the typed request, sign-in when it is required, the
role that spending needs, the browser session that stands for a person on an open instance, and a redirect that
htmx follows."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import IO
from urllib.parse import quote, urlsplit, urlunsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, resolve_url
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from generations.models import MadeByAPerson, Requester
from generations.permissions import MAY_NOT_GENERATE, may_generate
from lib.client_address import client_ip

MAKER_SESSION_KEY = "maker_session"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind `login_required`: its user has signed in."""

    user: User


def htmx_redirect(request: HtmxHttpRequest, to: str | Model) -> HttpResponse:
    """Go to `to` (a URL, a URL name or an object with get_absolute_url): htmx loads it as a whole page."""
    url = resolve_url(to)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def our_page_or(request: HttpRequest, candidate: str, *, default: str) -> str:
    """`candidate` (a `next` field, a Referer) when it leads to one of our pages, else `default`.

    Only a path on this host that the URL resolver knows is followed, and only its path and query are kept: a
    bare word would be taken for a URL name by redirect(), and another host is not ours to send people to.
    """
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return default
    parts = urlsplit(candidate)
    try:
        resolve(parts.path)
    except Resolver404:
        return default
    return urlunsplit(("", "", parts.path, parts.query, ""))


def streamed_download(file: IO[bytes], *, content_type: str, filename: str) -> StreamingHttpResponse:
    """A file made for one download (a ZIP), sent a megabyte at a time, read off the event loop, then closed."""

    async def chunks():
        try:
            while chunk := await sync_to_async(file.read, thread_sensitive=False)(1024 * 1024):
                yield chunk
        finally:
            file.close()

    response = StreamingHttpResponse(chunks(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def login_required_if_configured[V: Callable[..., HttpResponseBase]](view: V) -> V:
    """Sign-in is required for this view when REQUIRE_LOGIN is on (the default with DEBUG off)."""

    @functools.wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if settings.REQUIRE_LOGIN and not request.user.is_authenticated:
            return htmx_redirect(
                request, f"{resolve_url(settings.LOGIN_URL)}?next={quote(request.get_full_path())}"
            )
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def generating_allowed[V: Callable[..., HttpResponse]](view: V) -> V:
    """For views that spend: sign-in as configured, then the role (a viewer is refused with 403 saying why)."""

    @functools.wraps(view)
    @login_required_if_configured
    def wrapper(request: HtmxHttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not may_generate(request.user):
            raise PermissionDenied(MAY_NOT_GENERATE)
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def maker_session(request: HttpRequest) -> str:
    """The random id this browser session gives the generations it asks for (made on first use)."""
    if not request.session.get(MAKER_SESSION_KEY):
        request.session[MAKER_SESSION_KEY] = secrets.token_urlsafe(16)
    return request.session[MAKER_SESSION_KEY]


def may_change(request: HttpRequest, made: MadeByAPerson) -> bool:
    """Whether the person behind `request` (on an open instance, their browser session) may cancel or delete
    `made`, a generation or a batch."""
    return made.can_be_changed_by(request.user, maker_session=request.session.get(MAKER_SESSION_KEY, ""))


def requester(request: HttpRequest) -> Requester:
    """Who is asking: the signed-in user or, on an open instance, this browser session at this address."""
    return Requester.of(request.user, session=maker_session(request), address=client_ip(request))
