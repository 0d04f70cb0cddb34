"""A restarted PostgreSQL costs no failed request once it is back: the pool checks each connection it hands out
(`check` in settings), so none that the restart closed reaches a request.

Under steady load the requests made while the server is down wear out the pool's dead connections themselves;
after a restart that no request saw (a quiet moment) the pool holds only dead ones, which the check weeds out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connections
from django.urls import reverse

from playground.embedded_postgres import EmbeddedPostgres
from tests.factories import make_generation

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
