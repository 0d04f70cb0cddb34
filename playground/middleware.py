"""Django's own middleware, with the hooks that never block run on the event loop under ASGI.

Under ASGI, Django runs every hook of a `MiddlewareMixin` middleware in a thread: two thread hops per middleware,
fifteen for each request here, a fifth of a form post's CPU. The hooks listed in `in_place` only read headers and
set attributes or lazy objects (no database, no files), so they run where they are called; the others keep
their thread. Under WSGI nothing changes.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware as DjangoXFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.middleware.csp import ContentSecurityPolicyMiddleware as DjangoContentSecurityPolicyMiddleware
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.middleware.security import SecurityMiddleware as DjangoSecurityMiddleware

BOTH = frozenset({"process_request", "process_response"})


class _InPlaceHooks:
    in_place: frozenset[str] = frozenset()

    async def __acall__(self, request):
        response = await self._hook("process_request", request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self._hook("process_response", request, response)
        return response

    async def _hook(self, name: str, *args):
        hook = getattr(self, name, None)
        if hook is None:
            return None
        if name in self.in_place:
            return hook(*args)
        return await sync_to_async(hook, thread_sensitive=True)(*args)


class SecurityMiddleware(_InPlaceHooks, DjangoSecurityMiddleware):
    in_place = BOTH


class ContentSecurityPolicyMiddleware(_InPlaceHooks, DjangoContentSecurityPolicyMiddleware):
    in_place = BOTH


class SessionMiddleware(_InPlaceHooks, DjangoSessionMiddleware):
    in_place = frozenset({"process_request"})  # the session is loaded lazily; saving it is a query


class CommonMiddleware(_InPlaceHooks, DjangoCommonMiddleware):
    in_place = BOTH


class CsrfViewMiddleware(_InPlaceHooks, DjangoCsrfViewMiddleware):
    in_place = BOTH  # the token lives in a cookie (CSRF_USE_SESSIONS is off)


class AuthenticationMiddleware(_InPlaceHooks, DjangoAuthenticationMiddleware):
    in_place = frozenset({"process_request"})  # request.user is lazy: it is loaded in the view's thread


class MessageMiddleware(_InPlaceHooks, DjangoMessageMiddleware):
    in_place = frozenset({"process_request"})  # storing messages may load the session


class XFrameOptionsMiddleware(_InPlaceHooks, DjangoXFrameOptionsMiddleware):
    in_place = BOTH
