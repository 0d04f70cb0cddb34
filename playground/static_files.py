"""WhiteNoise's static file serving, usable in Django's async request path.

Django runs a request fully async only when every middleware can; WhiteNoise's is sync-only, and one sync
middleware would make each waiting async view (the API, the live updates) hold a thread again. Static files
are small, so the file is read whole in a thread and answered as plain bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.responders import StaticFile


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]) -> None:
        super().__init__(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        static_file = (
            self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        )
        if static_file is None:
            return await self.get_response(request)
        return await sync_to_async(_serve_whole, thread_sensitive=False)(static_file, request)


def _serve_whole(static_file: StaticFile, request: HttpRequest) -> HttpResponse:
    served = static_file.get_response(request.method, request.META)
    body = b""
    if served.file is not None:
        with served.file:
            body = served.file.read()
    response = HttpResponse(body, status=int(served.status))
    del response["Content-Type"]
    for name, value in served.headers:
        response[name] = value
    return response
