"""Database access from async code (async views, the job engine's tasks and its connection), and riding out a
database outage (a restart, a failover) instead of failing what was under way."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, LiteralString, cast

import psycopg
from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection
from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLConnection
from procrastinate import connector as procrastinate_connector
from procrastinate.exceptions import ConnectorException
from procrastinate.psycopg_connector import PsycopgConnector
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

# While the database is away, how long between two tries, and between two log lines saying so.
OUTAGE_RETRY_DELAY_S = 1.0
LISTEN_WARNING_EVERY_S = 30.0

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
    async code shares by default they queued behind each other's round trips; and for the API's waiting calls,
    whose queries queued in front of the site's pages on that thread. Code called from a sync caller (a test,
    inside its transaction) must keep to that caller's thread, so this is only for code that never is.
    """
    token = _in_parallel.set(True)
    try:
        yield
    finally:
        _in_parallel.reset(token)


def check_pooled_connection(conn: psycopg.Connection[Any]) -> None:
    """psycopg_pool's check of a connection as it is handed out; once one is found dead, the pool's idle ones are
    all replaced.

    A database restart ends every connection at once. The pool finds them dead one at a time, and waits 1, 2, 4 …
    s between two it hands the same request, so a lone request after a restart that no request saw drew a few
    dead ones in a row and failed at the pool's 10 s timeout.
    """
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        cast(PostgreSQLConnection, connection).pool.drain()
        raise


def is_database_outage(err: BaseException) -> bool:
    """Whether `err` says that PostgreSQL could not be reached: down, restarting, or the connection lost."""
    cause = err.__cause__ if isinstance(err, ConnectorException) else err
    return isinstance(cause, OperationalError | InterfaceError | psycopg.OperationalError)


async def through_database_outage[R](step: Callable[[], Awaitable[R]], *, grace_s: float, what: str) -> R:
    """`step()`'s result, trying it again while the database is unreachable, for up to `grace_s` seconds.

    Every other error, and the outage's own once `grace_s` has passed, is raised. The outage is logged as it
    begins, ends or outlasts `grace_s`.
    """
    deadline = None
    while True:
        try:
            result = await step()
        except Exception as err:
            if not is_database_outage(err):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + grace_s
                logger.warning(
                    "%s: the database is unreachable (%s); trying again for %.0f s", what, err, grace_s
                )
            if now >= deadline:
                logger.error("%s: the database was still unreachable after %.0f s; giving up", what, grace_s)
                raise
            await asyncio.sleep(OUTAGE_RETRY_DELAY_S)
        else:
            if deadline is not None:
                logger.warning("%s: the database answers again", what)
            return result


class OutageTolerantConnector(PsycopgConnector):
    """procrastinate's psycopg connector for a worker that outlives a database restart.

    procrastinate stops a worker whose heartbeat, job fetch or LISTEN connection fails once (and exits with
    status 0). Here each query is tried again while the database is unreachable, for up to `outage_grace_s`,
    and the LISTEN connection is made again until the worker stops (meanwhile the worker polls for jobs).
    """

    def __init__(self, *, outage_grace_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outage_grace_s = outage_grace_s

    async def execute_query_async(self, query: LiteralString, **arguments: Any) -> None:
        return await self._through_outage(super().execute_query_async, query, arguments)

    async def execute_query_one_async(self, query: LiteralString, **arguments: Any) -> dict[str, Any]:
        return await self._through_outage(super().execute_query_one_async, query, arguments)

    async def execute_query_all_async(self, query: LiteralString, **arguments: Any) -> list[dict[str, Any]]:
        return await self._through_outage(super().execute_query_all_async, query, arguments)

    async def listen_notify(
        self, on_notification: procrastinate_connector.Notify, channels: Iterable[str]
    ) -> None:
        channels = list(channels)
        warned_at = -LISTEN_WARNING_EVERY_S
        while True:
            try:
                await super().listen_notify(on_notification=on_notification, channels=channels)
            except ConnectorException as err:
                if not is_database_outage(err):
                    raise
                if time.monotonic() - warned_at >= LISTEN_WARNING_EVERY_S:
                    warned_at = time.monotonic()
                    logger.warning("job engine: cannot listen (%s); trying again every second", err.__cause__)
                await asyncio.sleep(OUTAGE_RETRY_DELAY_S)

    async def _through_outage[R](
        self, execute: Callable[..., Awaitable[R]], query: LiteralString, arguments: dict[str, Any]
    ) -> R:
        return await through_database_outage(
            lambda: execute(query, **arguments), grace_s=self.outage_grace_s, what="job engine"
        )
