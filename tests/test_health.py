"""The probes: liveness without I/O, readiness within its deadline whatever the database does, and whether a job
worker is alive (reported, not counted: a web instance without workers still serves its pages)."""

from __future__ import annotations

import socket
import time

import pytest
from procrastinate.contrib.django.models import ProcrastinateWorker

from playground import health

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def patient_probe(monkeypatch) -> None:
    """What the checks say, not how fast: a machine this busy may take longer than a probe's deadline."""
    monkeypatch.setattr(health, "READINESS_DEADLINE_S", 60)


def test_the_probes_answer_any_host_liveness_without_io_and_readiness_with_each_part(
    client, worker, patient_probe
):
    wait_until_registered()
    live = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    ready = client.get("/readyz", HTTP_HOST="10.0.0.7:8000")

    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (
        200,
        {"database": "ok", "storage": "ok", "queue": "ok", "workers": "ok"},
    )
    assert client.head("/readyz").status_code == 200
    assert client.post("/readyz").status_code == 405


def test_readiness_says_when_no_worker_is_alive_without_leaving_rotation(client, patient_probe):
    ready = client.get("/readyz")

    assert ready.status_code == 200
    assert ready.json()["workers"].startswith("failing: no live worker")


def test_a_database_that_does_not_answer_is_a_503_within_the_deadline(client, monkeypatch):
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host, port = silent.getsockname()
        params = health._probe_connection_params() | {"host": host, "port": port, "connect_timeout": 30}
        monkeypatch.setattr(health, "_probe_connection_params", lambda: params)

        ready = client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json()["database"] == f"failing: no answer within {health.READINESS_DEADLINE_S} s"
    assert ready.json()["storage"] == "ok"


def test_a_database_that_refuses_connections_is_a_503_naming_it(client, monkeypatch, patient_probe):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connecting is refused
        params = health._probe_connection_params() | {"host": "127.0.0.1", "port": closed.getsockname()[1]}
        monkeypatch.setattr(health, "_probe_connection_params", lambda: params)

        ready = client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json() == {
        "database": "failing: OperationalError",
        "storage": "ok",
        "queue": "failing: no database",
        "workers": "failing: no database",
    }


def wait_until_registered() -> None:
    """The worker fixture is ready once its worker runs, a moment before it registers in the database."""
    deadline = time.monotonic() + 30
    while not ProcrastinateWorker.objects.exists():
        assert time.monotonic() < deadline, "the worker never registered"
        time.sleep(0.05)
