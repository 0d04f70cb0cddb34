"""Counting SQL queries across requests (Django's CaptureQueriesContext is reset by each request it spans)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection


@dataclass
class QueryCount:
    total: int = 0

    def __call__(self, execute, sql, params, many, context):
        self.total += 1
        return execute(sql, params, many, context)


@contextmanager
def count_queries() -> Iterator[QueryCount]:
    counter = QueryCount()
    with connection.execute_wrapper(counter):
        yield counter
