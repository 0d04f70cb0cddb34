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
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Measured:
    wall_ms: list[float]  # sorted
    cpu_ms: float  # this process's CPU time a request, on average: what a busy machine's wall time hides
    queries: int


def measure(client: Client, url: str) -> Measured:
    """`url`'s server time over REPEAT requests after a warm-up, the CPU it took, and its SQL queries."""
    for _ in range(5):
        assert client.get(url).status_code == 200, url
    with count_queries() as queries:
        client.get(url)
    times = []
    cpu_started = time.process_time()
    for _ in range(REPEAT):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / REPEAT
    return Measured(wall_ms=sorted(times), cpu_ms=cpu_ms, queries=queries.total)
