"""A restarted PostgreSQL costs no failed request once it is back, no image the provider made, and no worker.

The pool checks each connection it hands out (`check` in settings), so none that the restart closed reaches a
request, and the first it finds dead has it replace all its idle ones (lib/db.py): after a restart that no request
saw (a quiet moment), a pool grown to its full size holds nothing but dead connections. A job worker
that has the provider's answer keeps it and writes it once the database is back, and the worker itself
reconnects (tasks.py, lib/db.py). Production mode: gunicorn, bin/worker and their own PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLConnection
from django.urls import reverse

from playground.embedded_postgres import EmbeddedPostgres
from tests.conftest import free_port
from tests.factories import make_generation
from tests.fake_provider import FakeProvider
from tests.production import ProductionServer, csrf_token, post_generation

LOAD_THREADS = 4


@dataclass
class Load:
    """Clients asking for pages that read the database, each result filed under the phase its request began in."""

    base_url: str
    urls: list[str]
    phase: str = "before"
    results: dict[str, list[int | str]] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)
    running: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self, offset: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            index = offset
            while self.running.wait() and not self.stopping.is_set():
                with self.changed:
                    phase, url = self.phase, self.urls[index % len(self.urls)]
                    self.in_flight[phase] = self.in_flight.get(phase, 0) + 1
                index += 1
                try:
                    outcome: int | str = http.get(url).status_code
                except httpx.HTTPError as err:
                    outcome = type(err).__name__
                with self.changed:
                    self.in_flight[phase] -= 1
                    self.results.setdefault(phase, []).append(outcome)
                    self.changed.notify_all()

    def pause(self) -> None:
        self.running.clear()
        self.wait_for(lambda: not any(self.in_flight.values()))

    def resume(self, phase: str) -> None:
        self.phase = phase
        self.running.set()

    def begin(self, phase: str) -> None:
        """New requests count under `phase` once those begun before have all been answered."""
        previous, self.phase = self.phase, phase
        self.wait_for(lambda: self.in_flight.get(previous, 0) == 0)

    def wait_for(self, condition, timeout_s: float = 60.0) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, timeout=timeout_s), (
                f"timed out; results so far: {self.counts()}"
            )

    def answered(self, phase: str) -> list[int | str]:
        return self.results.get(phase, [])

    def failed(self, phase: str) -> list[int | str]:
        return [
            outcome for outcome in self.answered(phase) if not (isinstance(outcome, int) and outcome < 500)
        ]

    def counts(self) -> dict[str, tuple[int, int]]:
        return {phase: (len(self.answered(phase)), len(self.failed(phase))) for phase in self.results}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_restarted_database_costs_no_request_once_it_is_back(asgi_server, record_property):
    data_dir = settings.DATABASES["default"].get("DATA_DIR")
    if not data_dir:
        pytest.skip("restarts the embedded PostgreSQL; DATABASE_URL names another server")
    database = EmbeddedPostgres(Path(data_dir))
    generation = make_generation()
    load = Load(
        asgi_server,
        urls=[
            reverse("generations:gallery"),
            generation.get_absolute_url(),
            "/readyz",
            reverse("generations:home"),
        ],
    )
    threads = [
        threading.Thread(target=load.run, args=(offset,), daemon=True) for offset in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    try:
        load.resume("before")
        load.wait_for(lambda: len(load.answered("before")) >= 40)
        load.begin("down")
        database.stop()
        load.wait_for(lambda: load.failed("down"))
        database.ensure_running()
        load.begin("back")
        load.wait_for(lambda: len(load.answered("back")) >= 400)
        load.pause()
        every_pool_connection_idle()
        database.stop()
        database.ensure_running()
        load.resume("back after a quiet restart")
        load.wait_for(lambda: len(load.answered("back after a quiet restart")) >= 400)
    finally:
        load.stopping.set()
        load.running.set()
        for thread in threads:
            thread.join(timeout=30)
        database.ensure_running()
        connections.close_all()  # the test's own connection died with the server

    summary = f"database restarted under load ({LOAD_THREADS} clients): " + ", ".join(
        f"{phase}: {answered} requests, {failed} failed"
        for phase, (answered, failed) in load.counts().items()
    )
    print(summary)
    record_property("database_restart", summary)
    assert load.failed("before") == []
    assert load.failed("back") == []
    assert load.failed("back after a quiet restart") == []


def every_pool_connection_idle() -> None:
    """The pool grown to its full size, its connections all idle (but the spec's own)."""
    pool = cast(PostgreSQLConnection, connections["default"]).pool
    stats = pool.get_stats()
    taken = [pool.getconn() for _ in range(pool.max_size - (stats["pool_size"] - stats["pool_available"]))]
    for conn in taken:
        pool.putconn(conn)


OUTAGE_S = 10


@pytest.mark.slow
@pytest.mark.production
def test_a_database_restart_costs_no_paid_image_no_worker_and_no_page_once_back(
    tmp_path, fake_provider: FakeProvider, record_property
):
    fake_provider.latency_s = 4.0  # the provider answers while the database is away
    production = ProductionServer(
        var_dir=tmp_path / "var",
        port=free_port(),
        provider_base_url=fake_provider.base_url,
        provider_key=fake_provider.api_key,
        REQUIRE_LOGIN="false",
        ZIMAGE_DEADLINE_S="30",
        PROVIDER_MAX_CONCURRENT="8",  # all eight at the provider when the database goes away
    )
    prompts = [f"Made across a database restart {index}" for index in range(8)]
    try:
        production.prepare()
        production.start()
        worker = production.workers[0]
        load = Load(production.url, urls=["/", "/gallery/"])
        threads = [threading.Thread(target=load.run, args=(offset,), daemon=True) for offset in range(4)]
        for thread in threads:
            thread.start()
        with httpx.Client(base_url=production.url, timeout=30) as client:
            token = csrf_token(client)
            for prompt in prompts:
                post_generation(client, token, prompt)
            wait_for_sql(
                production, "SELECT count(*) = 8 FROM generations_generation WHERE status = 'running'"
            )
            load.resume("before")
            load.wait_for(lambda: len(load.answered("before")) >= 20)

            load.begin("down")
            production.database_server.stop()
            stopped_at = time.monotonic()
            ready = httpx.get(f"{production.url}/readyz", timeout=5)
            time.sleep(max(OUTAGE_S - (time.monotonic() - stopped_at), 0))
            production.database_server.ensure_running()
            load.begin("back")

            wait_for_sql(
                production, "SELECT count(*) = 8 FROM generations_generation WHERE status = 'succeeded'"
            )
            load.wait_for(lambda: len(load.answered("back")) >= 100)
            load.pause()
        statuses = Counter(
            status for [status] in production.database().execute("SELECT status FROM generations_generation")
        )
        worker_alive = worker.poll() is None and production.workers == [worker]
    finally:
        load.stopping.set()
        load.running.set()
        production.close()

    requests = Counter(body["prompt"] for body in fake_provider.requests)
    summary = (
        f"PostgreSQL stopped {OUTAGE_S} s with 8 generations at the provider: {dict(statuses)}, "
        f"{sum(requests.values())} provider requests for {len(prompts)} prompts, worker alive: {worker_alive}; "
        "pages (4 clients): "
        + ", ".join(
            f"{phase}: {answered} loads, {failed} failed"
            for phase, (answered, failed) in load.counts().items()
        )
    )
    print(summary)
    record_property("database_outage", summary)
    assert ready.status_code == 503
    assert ready.json()["database"].startswith("failing")
    assert statuses == {"succeeded": 8}
    assert requests == Counter(prompts), "one provider request each"
    assert worker_alive, "the same worker process, still running"
    assert load.failed("back") == []


def wait_for_sql(production: ProductionServer, condition_sql: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with production.database() as database:
                row = database.execute(condition_sql).fetchone()
                if row and row[0]:
                    return
        except psycopg.OperationalError:
            pass  # the database is on its way back
        time.sleep(0.1)
    raise AssertionError(f"still not true after {timeout_s} s: {condition_sql}")
