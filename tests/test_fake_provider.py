from __future__ import annotations

import base64
import io
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from tests.fake_provider import EXPIRED_URL_BODY, TIMEOUT_FAULT_S, FakeProvider


def make_body(**fields) -> dict:
    return {
        "model": "z-image-turbo",
        "prompt": "A lighthouse at dusk",
        "size": "1024x768",
        "n": 1,
        "parameters": {"prompt_extend": False, "seed": 42},
    } | fields


def post(
    fake: FakeProvider, body: dict, *, api_key: str | None = None, timeout: float = 10
) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}/images/generations",
        json=body,
        headers={"Authorization": f"Bearer {api_key or fake.api_key}"},
        timeout=timeout,
    )


def test_it_answers_with_a_url_to_a_png_of_the_requested_size(fake_provider):
    response = post(fake_provider, make_body())

    assert response.status_code == 200
    assert response.headers["x-request-id"]
    payload = response.json()
    assert isinstance(payload["created"], int)
    [item] = payload["data"]
    assert set(item) == {"url"}
    assert item["url"].startswith(f"{fake_provider.origin}/files/")
    image = httpx.get(item["url"])
    assert image.headers["content-type"] == "image/png"
    assert int(image.headers["content-length"]) == len(image.content)
    assert Image.open(io.BytesIO(image.content)).size == (1024, 768)
    assert fake_provider.requests == [make_body()]


def test_it_answers_with_b64_json_when_asked(fake_provider):
    response = post(fake_provider, make_body(response_format="b64_json"))

    [item] = response.json()["data"]
    assert set(item) == {"b64_json"}
    assert Image.open(io.BytesIO(base64.b64decode(item["b64_json"]))).format == "PNG"


def test_it_draws_the_same_image_for_the_same_prompt_and_seed(fake_provider):
    def image_for(seed: int) -> str:
        return post(fake_provider, make_body(response_format="b64_json", parameters={"seed": seed})).json()[
            "data"
        ][0]["b64_json"]

    assert image_for(7) == image_for(7) != image_for(8)


def test_it_adds_a_revised_prompt_and_reasoning_with_prompt_extend(fake_provider):
    response = post(fake_provider, make_body(parameters={"prompt_extend": True, "seed": 1}))

    [item] = response.json()["data"]
    assert item["revised_prompt"].startswith("A lighthouse at dusk")
    assert "A lighthouse at dusk" in item["reasoning_content"]


def test_it_refuses_a_wrong_api_key_with_an_openai_style_error(fake_provider):
    response = post(fake_provider, make_body(), api_key="wrong-key")

    assert response.status_code == 401
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("fields", "status", "param", "code"),
    [
        ({"model": "z-image-ultra"}, 404, "model", "model_not_found"),
        ({"prompt": "  "}, 400, "prompt", "invalid_parameter"),
        ({"prompt": 42}, 400, "prompt", "invalid_parameter"),
        ({"size": "256x256"}, 400, "size", "invalid_size"),
        ({"size": "4096x2048"}, 400, "size", "invalid_size"),
        ({"size": "large"}, 400, "size", "invalid_size"),
        ({"n": 2}, 400, "n", "invalid_parameter"),
        ({"response_format": "png"}, 400, "response_format", "invalid_parameter"),
        ({"parameters": {"seed": -1}}, 400, "seed", "invalid_parameter"),
        ({"parameters": {"seed": 2_147_483_648}}, 400, "seed", "invalid_parameter"),
        ({"parameters": {"seed": "42"}}, 400, "seed", "invalid_parameter"),
        ({"parameters": {"prompt_extend": "yes"}}, 400, "prompt_extend", "invalid_parameter"),
    ],
)
def test_it_validates_requests_like_the_provider(fake_provider, fields, status, param, code):
    response = post(fake_provider, make_body(**fields))

    assert response.status_code == status
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)


@pytest.mark.parametrize("size", ["512x512", "2048x2048", None])
def test_it_accepts_the_pixel_bounds_and_the_optional_fields_left_out(fake_provider, size):
    body = make_body()
    del body["size"], body["n"], body["parameters"]

    response = post(fake_provider, body if size is None else body | {"size": size})

    assert response.status_code == 200, response.text


def test_it_answers_404_for_an_unknown_file(fake_provider):
    assert httpx.get(f"{fake_provider.origin}/files/nothing-here.png").status_code == 404


def test_it_sends_retry_after_with_429(fake_provider):
    response = post(fake_provider, make_body(prompt="A lighthouse [fault:429:3]"))

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"


def post_at_once(fake: FakeProvider, count: int) -> list[httpx.Response]:
    """`count` generation requests sent at the same moment from threads held at a barrier."""
    barrier = threading.Barrier(count)

    def send(index: int) -> httpx.Response:
        barrier.wait()
        return post(fake, make_body(prompt=f"At once {index}"))

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(send, range(count)))


def test_it_refuses_requests_past_its_concurrency_limit_with_429(fake_provider):
    fake_provider.max_concurrent = 3
    fake_provider.latency_s = 2.0  # the five others arrive while the first three are still answered

    responses = post_at_once(fake_provider, 8)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 3 + [429] * 5
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert fake_provider.max_in_flight == 3
    assert fake_provider.rate_limited == 5
    assert len(fake_provider.received_at) == 8


def test_it_refuses_requests_past_its_per_minute_limit_within_a_sliding_window(fake_provider):
    fake_provider.max_per_minute = 4

    responses = post_at_once(fake_provider, 6)
    later = post(fake_provider, make_body())

    assert sorted(response.status_code for response in responses) == [200] * 4 + [429] * 2
    assert later.status_code == 429, "the window slides: the first four are still within the last minute"
    assert later.headers["x-ratelimit-limit"] == "4"
    assert later.headers["x-ratelimit-remaining"] == "0"
    assert 55 <= float(later.headers["x-ratelimit-reset"]) <= 60
    assert 56 <= int(later.headers["retry-after"]) <= 60
    assert fake_provider.max_accepted_in_any_window() == 4
    assert fake_provider.max_received_in_any_window() == 7


def test_every_answer_says_how_much_of_the_minute_is_left(fake_provider):
    fake_provider.max_per_minute = 10

    first, second = post(fake_provider, make_body()), post(fake_provider, make_body())

    assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("10", "9")
    assert second.headers["x-ratelimit-remaining"] == "8"
    assert float(second.headers["x-ratelimit-reset"]) == 0.0, "the window is not full: no wait"
    assert "x-ratelimit-limit" not in httpx.get(second.json()["data"][0]["url"]).headers


def test_its_stats_say_what_it_saw(fake_provider):
    fake_provider.max_per_minute = 1
    post(fake_provider, make_body())
    post(fake_provider, make_body())

    stats = httpx.get(f"{fake_provider.origin}/stats").json()

    assert stats == {
        "received": 2,
        "accepted": 1,
        "rate_limited": 1,
        "max_in_flight": 1,
        "max_accepted_in_any_window": 1,
        "max_received_in_any_window": 2,
    }


def test_it_fails_a_flaky_prompt_only_the_first_n_times(fake_provider):
    prompt = f"A lighthouse {uuid.uuid4().hex} [fault:flaky:503:2]"

    statuses = [post(fake_provider, make_body(prompt=prompt)).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert post(fake_provider, make_body(prompt=f"{prompt} again")).status_code == 503, "counted per prompt"


def test_it_turns_to_the_next_fault_once_a_flaky_one_is_spent(fake_provider):
    prompt = f"A lighthouse {uuid.uuid4().hex} [fault:flaky:500:1] [fault:429:7]"

    responses = [post(fake_provider, make_body(prompt=prompt)) for _ in range(2)]

    assert [response.status_code for response in responses] == [500, 429]
    assert responses[1].headers["retry-after"] == "7"


def test_it_answers_an_expired_url_with_an_access_denied_document(fake_provider):
    url = post(fake_provider, make_body(prompt="A lighthouse [fault:expired-url]")).json()["data"][0]["url"]

    response = httpx.get(url)

    assert response.status_code == 403
    assert response.content == EXPIRED_URL_BODY


def test_it_streams_an_oversized_image_without_a_content_length(fake_provider):
    url = post(fake_provider, make_body(prompt="A lighthouse [fault:oversized-nolength]")).json()["data"][0][
        "url"
    ]

    with httpx.stream("GET", url) as response:
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        received = 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > 4 * 1024 * 1024:
                break
    assert received > 4 * 1024 * 1024


def test_it_rejects_an_unknown_fault(fake_provider):
    response = post(fake_provider, make_body(prompt="A lighthouse [fault:nonsense]"))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_fault"


def test_it_waits_latency_s_before_answering_and_takes_a_new_latency_at_once():
    with FakeProvider(latency_s=60) as fake:
        fake.latency_s = 0.3
        started = time.monotonic()
        post(fake, make_body(), timeout=30)  # the first latency would have timed out
        assert time.monotonic() - started >= 0.3


def test_it_holds_a_hold_prompt_until_released_and_then_answers_it(fake_provider):
    with ThreadPoolExecutor() as pool:
        answers = [pool.submit(post, fake_provider, make_body(prompt=f"{i} [fault:hold]")) for i in range(2)]
        fake_provider.wait_for(lambda: fake_provider.in_flight == 2, "two held requests")
        assert not any(answer.done() for answer in answers)

        fake_provider.release()

        assert [answer.result().status_code for answer in answers] == [200, 200]
    assert post(fake_provider, make_body(prompt="After [fault:hold]")).status_code == 200, "released for good"


def test_it_stops_quickly_while_a_request_hangs():
    fake = FakeProvider().start()
    errors: list[httpx.HTTPError] = []

    def hang() -> None:
        try:
            post(fake, make_body(prompt="A lighthouse [fault:timeout]"))
        except httpx.HTTPError as err:
            errors.append(err)

    hanging = threading.Thread(target=hang)
    hanging.start()
    fake.wait_for_requests(1)

    fake.stop()
    hanging.join(timeout=TIMEOUT_FAULT_S / 2)

    assert not hanging.is_alive(), f"stopping waited for the hang's {TIMEOUT_FAULT_S} s"
    assert isinstance(errors[0], httpx.RemoteProtocolError), "the request ends without an answer"
