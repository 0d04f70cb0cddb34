"""Database access from async code (async views, the job engine's tasks)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

from asgiref.sync import sync_to_async
from django.db import connection

_database_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="database")
_in_parallel = ContextVar("database_calls_in_parallel", default=False)


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

    in_callers_thread = sync_to_async(call_and_release)
    in_any_thread = sync_to_async(call_and_release, thread_sensitive=False, executor=_database_threads)

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        run = in_any_thread if _in_parallel.get() else in_callers_thread
        return await run(*args, **kwargs)

    return call


@contextmanager
def database_calls_in_parallel() -> Iterator[None]:
    """Within: `database_sync_to_async` functions run on a few threads instead of one.

    For a worker's jobs, a hundred at once, each starting and ending with a query: on the one thread that
    async code shares by default they queued behind each other's round trips. Code called from a sync caller
    (a test, inside its transaction) must keep to that caller's thread, so this is only for the worker.
    """
    token = _in_parallel.set(True)
    try:
        yield
    finally:
        _in_parallel.reset(token)
