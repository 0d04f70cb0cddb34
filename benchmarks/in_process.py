"""Django set up in this process as production runs it (DEBUG off, cached templates), on the benchmark's own
embedded PostgreSQL (var/bench, or BENCH_VAR_DIR), for the benchmarks that time server code without a server in
between.

Import this module before any model; run the benchmark with `run(main)`, which stops the database afterwards
if it was not running before.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = int(os.environ.get("BENCH_REPEAT", "60"))

os.environ.update(
    {
        # A benchmark whose rows would change the others' figures names a folder (and so a database) of its own.
        "VAR_DIR": os.environ.get("BENCH_VAR_DIR", str(ROOT / "var" / "bench")),
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key",
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "playground.settings",
    }
)
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from playground.embedded_postgres import EmbeddedPostgres  # noqa: E402
from tests.query_count import count_queries  # noqa: E402


def run(main: Callable[[], None]) -> None:
    database = EmbeddedPostgres(Path(connection.settings_dict["DATA_DIR"]))
    was_running = database.is_running()
    try:
        main()
    finally:
        connection.close()
        if not was_running:
            database.stop()


def p95(values: list[float]) -> float:
    """The 95th percentile of sorted values."""
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


def measure(client: Client, url: str) -> tuple[list[float], int]:
    """`url`'s server time over REPEAT requests (sorted, in ms) after a warm-up, and its SQL queries."""
    for _ in range(5):
        assert client.get(url).status_code == 200, url
    with count_queries() as queries:
        client.get(url)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times), queries.total
