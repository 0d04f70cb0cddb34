"""The job engine end to end: the playground served over ASGI, a real worker, the fake provider over HTTP.

Requests that arrive at once are fired from threads held at a barrier, so that they reach the server together.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module

import httpx
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from generations.models import Generation, GenerationStatus
from generations.tasks import run_generation
from tests.factories import create_generation, make_generation
from tests.fake_provider import FakeProvider
from tests.production import csrf_token

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(base_url: str, user) -> tuple[httpx.Client, str]:
    """An HTTP client with `user`'s session (or none), and the CSRF token of its home page."""
    cookies = {}
    if user is not None:
        session = Client()
        session.force_login(user)
        cookies[settings.SESSION_COOKIE_NAME] = session.cookies[settings.SESSION_COOKIE_NAME].value
    client = httpx.Client(base_url=base_url, cookies=cookies, timeout=30)
    return client, csrf_token(client)


def post_at_once(posts: list[tuple[httpx.Client, str, str]]) -> list[int]:
    """Submit the form once per (client, CSRF token, prompt), all at the same moment; the statuses."""
    barrier = threading.Barrier(len(posts))

    def post(client: httpx.Client, token: str, prompt: str) -> int:
        data = {"prompt": prompt, "size": "1024x1024", "csrfmiddlewaretoken": token}
        barrier.wait()
        return client.post("/generate/", data=data, headers={"HX-Request": "true"}).status_code

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        return list(pool.map(lambda args: post(*args), posts))


def wait_until(condition, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.05)


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(f"user{index}") for index in range(4)]


def test_a_persons_per_minute_limit_holds_when_their_requests_arrive_at_once(
    asgi_server, users, settings, demo_mode
):
    settings.LIMIT_PER_MINUTE = 5
    client, token = signed_in(asgi_server, users[0])

    statuses = post_at_once([(client, token, f"At once {index}") for index in range(20)])

    assert statuses == [200] * 20, "a refusal is the form with its message, never an error"
    assert Generation.objects.filter(user=users[0]).count() == 5


def test_a_persons_cap_on_unfinished_work_holds_when_their_requests_arrive_at_once(
    asgi_server, users, settings, demo_mode
):
    settings.LIMIT_QUEUED_PER_USER = 3
    client, token = signed_in(asgi_server, users[0])

    post_at_once([(client, token, f"At once {index}") for index in range(20)])

    assert Generation.objects.filter(user=users[0], status=GenerationStatus.QUEUED).count() == 3


def test_the_queue_cap_holds_when_many_people_submit_at_once(asgi_server, users, settings, demo_mode):
    settings.MAX_QUEUED_GENERATIONS = 4
    sessions = [signed_in(asgi_server, user) for user in users]

    post_at_once([(client, token, f"{index}") for client, token in sessions for index in range(6)])

    assert Generation.objects.filter(status=GenerationStatus.QUEUED).count() == 4


@pytest.mark.parametrize("worker_concurrency", [3])
def test_the_workers_concurrency_caps_the_calls_the_provider_sees_and_the_rest_waits(
    worker, use_fake_provider: FakeProvider
):
    use_fake_provider.latency_s = 0.15
    generations = [create_generation(prompt=f"Capped {index}", seed=index) for index in range(12)]

    wait_until(lambda: not Generation.objects.active().exists())

    assert use_fake_provider.max_in_flight == 3
    assert {generation.status for generation in Generation.objects.all()} == {GenerationStatus.SUCCEEDED}
    assert len(use_fake_provider.requests) == len(generations), "each generation was asked for once"


def test_an_open_page_is_told_of_each_status_change_as_it_happens(
    playground, use_fake_provider: FakeProvider
):
    generation = create_generation(prompt="A lighthouse [fault:slow:0.5]")
    statuses = []
    with httpx.stream(
        "GET", f"{playground}/events/", params={"id": generation.public_id}, timeout=30
    ) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        for line in stream.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line.removeprefix("data: "))
                assert event["id"] == generation.public_id
                statuses.append(event["status"])
                if event["status"] == "succeeded":
                    break

    assert statuses[-2:] == ["running", "succeeded"]


def test_the_stream_ignores_values_that_cannot_be_public_ids(asgi_server):
    generation = make_generation()
    with httpx.stream(
        "GET",
        f"{asgi_server}/events/",
        params={"id": ["not an id!", "a" * 5000, generation.public_id]},
        timeout=10,
    ) as stream:
        assert stream.status_code == 200
        first_event = next(line for line in stream.iter_lines() if line.startswith("data: "))

    assert json.loads(first_event.removeprefix("data: ")) == {"id": generation.public_id, "status": "queued"}


def test_metrics_count_the_queue_the_outcomes_and_the_latencies(client):
    make_generation()
    make_generation(status=GenerationStatus.RUNNING)
    make_generation(status=GenerationStatus.SUCCEEDED, provider_latency_ms=2500)
    make_generation(status=GenerationStatus.FAILED, error_code="provider_timeout")

    text = client.get("/metrics").text

    assert "zimage_queue_depth 1.0" in text
    assert "zimage_running 1.0" in text
    assert 'zimage_generations_total{code="provider_timeout",status="failed"} 1.0' in text
    assert 'zimage_provider_latency_seconds_bucket{le="3"} 1.0' in text
    assert 'zimage_provider_latency_seconds_bucket{le="2"} 0.0' in text


def test_metrics_ask_for_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "metrics-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret").status_code == 200


def test_a_job_the_previous_release_queued_runs_once_the_migration_names_its_generation(
    worker, use_fake_provider: FakeProvider
):
    generation = make_generation(prompt="A lighthouse queued before the upgrade")
    with transaction.atomic():  # the worker sees the job only as the migration leaves it
        # As the previous release queued it, with the arguments of its day.
        run_generation.defer(generation_id=generation.pk, request_id="-")  # type: ignore[call-arg]
        with connection.cursor() as cursor:
            cursor.execute(
                import_module("generations.migrations.0012_jobs_name_generations_by_public_id").FORWARDS
            )

    wait_until(lambda: Generation.objects.get(pk=generation.pk).status == GenerationStatus.SUCCEEDED)
    assert len(use_fake_provider.requests) == 1
