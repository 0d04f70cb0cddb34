"""One call, one image: a repeated /v1 call gets the first one's outcome, and a caller that goes away while its
generation is queued cancels it. Fired at once where it matters, against the live playground."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from generations.models import ApiCall, Generation, GenerationStatus
from tests.factories import make_token, make_user

pytestmark = pytest.mark.django_db(transaction=True)

BODY = json.dumps({"model": "z-image-turbo", "prompt": "A fox", "size": "1024x1024"}).encode()


@pytest.fixture
def call(playground, use_fake_provider):
    token = make_token(make_user())

    def call(body: bytes = BODY, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{playground}/v1/images/generations",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
            timeout=30,
        )

    return call


def at_once(count: int, function, *args, **kwargs) -> list:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return [future.result() for future in [pool.submit(function, *args, **kwargs) for _ in range(count)]]


def test_simultaneous_calls_with_one_idempotency_key_make_one_image(call, use_fake_provider):
    use_fake_provider.latency_s = 0.5

    answers = at_once(10, call, **{"Idempotency-Key": "order-42"})

    assert [answer.status_code for answer in answers] == [200] * 10
    assert len({answer.json()["data"][0]["url"] for answer in answers}) == 1
    assert Generation.objects.count() == 1
    assert len(use_fake_provider.requests) == 1
    assert call(**{"Idempotency-Key": "order-42"}).json() == answers[0].json(), "replayed once finished"
    assert Generation.objects.count() == 1


def test_the_same_key_with_another_body_is_refused(call, use_fake_provider):
    assert call(**{"Idempotency-Key": "order-43"}).status_code == 200

    refused = call(BODY.replace(b"A fox", b"A cat"), **{"Idempotency-Key": "order-43"})

    assert refused.status_code == 422
    assert refused.json()["error"]["param"] == "Idempotency-Key"
    assert Generation.objects.count() == 1


def test_an_sdk_retry_of_the_same_bytes_waits_for_the_first_call(call, use_fake_provider):
    use_fake_provider.latency_s = 1.5
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(call)
        wait_for(lambda: Generation.objects.filter(status=GenerationStatus.RUNNING).exists())
        retries = [pool.submit(call, **{"x-stainless-retry-count": "1"}) for _ in range(5)]
        answers = [first.result(), *(retry.result() for retry in retries)]

    assert len({answer.json()["data"][0]["url"] for answer in answers}) == 1
    assert len(use_fake_provider.requests) == 1
    assert call(**{"x-stainless-retry-count": "0"}).status_code == 200, "a first attempt is a call of its own"
    assert Generation.objects.count() == 2


def test_a_caller_that_goes_away_while_queued_cancels_its_generation(asgi_server, use_fake_provider):
    token = make_token(make_user())  # no worker: the generation waits in the queue

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{asgi_server}/v1/images/generations",
            content=BODY,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "gone"},
            timeout=1,
        )

    wait_for(lambda: Generation.objects.filter(status=GenerationStatus.CANCELLED).exists())
    assert "nothing was billed" in Generation.objects.get().error_message
    assert not ApiCall.objects.exists(), "the key may be used again"


def test_a_key_that_is_not_short_text_is_refused(call):
    refused = call(**{"Idempotency-Key": "k" * 256})

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "Idempotency-Key"
    assert Generation.objects.count() == 0


def wait_for(condition, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "still not true"
        time.sleep(0.05)
