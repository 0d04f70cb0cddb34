"""Database access from async code (async views, the job engine's tasks)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.db import connection


def database_sync_to_async[**P, R](func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`func` run in a thread, its connection handed back to the pool as it returns.

    An async view or task may wait for minutes (an API call, a live stream, a provider call); the connection
    it used for a moment must not stay taken meanwhile. One inside a transaction that began outside `func`
    (a test's) is not its to close.
    """

    def call_and_release(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:
                connection.close()

    return functools.wraps(func)(sync_to_async(call_and_release))
