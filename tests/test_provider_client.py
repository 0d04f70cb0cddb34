"""HttpProvider over real HTTP against the fake provider, one test per way the provider can fail."""

from __future__ import annotations

import io
import socket
import uuid

import pytest
from PIL import Image

from generations.domain import GenerationParameters
from generations.models import FAILURES_A_RETRY_CANNOT_MEND
from generations.provider.errors import (
    ImageDownloadError,
    ImageTooLargeError,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejectedError,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from tests.conftest import make_http_provider, run_async
from tests.factories import make_parameters
from tests.fake_provider import NOT_AN_IMAGE, OVERSIZED_BYTES, SECOND_MODEL, UNSAFE_TEXT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def generate(provider, parameters: GenerationParameters):
    return run_async(provider.generate, parameters)


def make_request(prompt: str = "A lighthouse at dusk", **fields) -> GenerationParameters:
    return make_parameters(prompt=prompt, **({"height": 768} | fields))


def unique_prompt(fault: str) -> str:
    """The fake counts flaky faults per prompt for the whole session, so each test needs its own prompt."""
    return f"A lighthouse {uuid.uuid4().hex} [fault:{fault}]"


@pytest.fixture
def refused_base_url():
    """A port that is bound but not listening: connecting to it is refused, and nobody else can take it."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{reserved.getsockname()[1]}/v1"


def test_it_sends_the_documented_body_and_fetches_the_image_from_its_url(fake_provider):
    # The fake answers 401 unless the request carries `Authorization: Bearer <its key>`.
    image = generate(make_http_provider(fake_provider), make_request(prompt_extend=True))

    assert fake_provider.requests == [
        {
            "model": "z-image-turbo",
            "prompt": "A lighthouse at dusk",
            "size": "1024x768",
            "n": 1,
            "response_format": "url",
            "parameters": {"prompt_extend": True, "seed": 42},
        }
    ]
    assert image.data.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(image.data)).size == (1024, 768)
    assert image.provider_url.startswith(f"{fake_provider.origin}/files/")
    assert image.revised_prompt.startswith("A lighthouse at dusk")
    assert "A lighthouse at dusk" in image.reasoning
    assert len(image.request_id) == 32
    assert image.attempts == 1


def test_an_extra_model_is_sent_every_setting_it_accepts_explicitly_and_nothing_else(fake_provider):
    provider = make_http_provider(
        fake_provider,
        extra_models={SECOND_MODEL: frozenset({"prompt_extend", "seed", "negative_prompt", "watermark"})},
    )

    run_async(provider.generate, make_request(), model=SECOND_MODEL)
    run_async(provider.generate, make_request(), model="a-model-nobody-listed")

    extra, unlisted = fake_provider.requests
    assert extra["model"] == SECOND_MODEL
    # Its defaults (prompt extend and a watermark on) are overridden; it gets no negative prompt, having none.
    assert extra["parameters"] == {"prompt_extend": False, "seed": 42, "watermark": False}
    assert unlisted["model"] == "z-image-turbo", "an unlisted name falls back to the configured model"
    assert unlisted["parameters"] == {"prompt_extend": False, "seed": 42}


def test_it_leaves_the_provider_text_empty_without_prompt_extend(fake_provider):
    image = generate(make_http_provider(fake_provider), make_request())

    assert (image.revised_prompt, image.reasoning) == ("", "")
    assert fake_provider.requests[0]["parameters"] == {"prompt_extend": False, "seed": 42}


def test_it_decodes_b64_json_and_keeps_no_provider_url(fake_provider):
    provider = make_http_provider(fake_provider, response_format="b64_json")

    image = generate(provider, make_request(width=1360, height=768))

    assert fake_provider.requests[0]["response_format"] == "b64_json"
    assert Image.open(io.BytesIO(image.data)).size == (1360, 768)
    assert image.provider_url == ""


def test_it_waits_for_a_slow_provider_within_the_deadline(fake_provider):
    image = generate(make_http_provider(fake_provider), make_request("A lighthouse [fault:slow:0.3]"))

    assert image.data.startswith(PNG_SIGNATURE)
    assert image.provider_latency_ms >= 300
    assert image.attempts == 1


def test_it_raises_a_timeout_at_the_deadline_and_does_not_retry_it(fake_provider):
    provider = make_http_provider(fake_provider, deadline_s=1.5)

    with pytest.raises(ProviderTimeout) as raised:
        generate(provider, make_request("A lighthouse [fault:timeout]"))

    assert len(fake_provider.requests) == 1, "the provider may have billed it: never sent twice"
    assert raised.value.attempts == 1
    assert "did not answer in time" in raised.value.user_message
    assert "so it was not sent again" in raised.value.user_message


def test_it_says_it_retried_provider_trouble_until_out_of_time_when_the_last_attempt_times_out(
    fake_provider, monkeypatch
):
    # Each answer takes 1 s: the first 500 comes at 1 s, the retry starts 0.1 s later and cannot finish by 2 s
    # (a busy machine has 0.9 s to spare before the retry would not be tried at all).
    fake_provider.latency_s = 1.0
    monkeypatch.setattr("generations.provider.client._backoff_s", lambda attempt: 0.1)
    provider = make_http_provider(fake_provider, deadline_s=2.0)

    with pytest.raises(ProviderTimeout) as raised:
        generate(provider, make_request("A lighthouse [fault:500]"))

    message = raised.value.user_message
    assert raised.value.attempts == len(fake_provider.requests) == 2
    assert "failed (HTTP 500) and was retried once, then out of time" in message
    assert "not sent again" not in message
    assert "did not answer in time" not in message


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_it_retries_provider_trouble_then_raises_unavailable(fake_provider, status, pauses):
    provider = make_http_provider(fake_provider, max_attempts=2)

    with pytest.raises(ProviderUnavailable) as raised:
        generate(provider, make_request(f"A lighthouse [fault:{status}]"))

    assert len(fake_provider.requests) == raised.value.attempts == 2
    assert raised.value.status_code == status
    assert raised.value.request_id
    assert raised.value.user_message.endswith("Retried once without success.")


def test_it_says_it_retried_until_out_of_time_when_the_next_retry_would_pass_the_deadline(fake_provider):
    # The second 500 comes at about 1 s, when the wait before a third attempt (0.75 s or more) passes 1.6 s.
    fake_provider.latency_s = 0.3
    provider = make_http_provider(fake_provider, deadline_s=1.6)

    with pytest.raises(ProviderUnavailable) as raised:
        generate(provider, make_request("A lighthouse [fault:503]"))

    assert raised.value.attempts == len(fake_provider.requests) == 2
    assert raised.value.user_message.endswith("Retried once, then out of time.")


def test_it_succeeds_after_transient_failures(fake_provider, pauses):
    image = generate(make_http_provider(fake_provider), make_request(unique_prompt("flaky:503:2")))

    assert image.attempts == 3
    assert len(fake_provider.requests) == 3
    assert image.data.startswith(PNG_SIGNATURE)


def test_it_waits_for_retry_after_when_rate_limited(fake_provider, pauses):
    image = generate(make_http_provider(fake_provider), make_request(unique_prompt("flaky:429:1")))

    assert pauses == [1.0], "the fake asks for Retry-After: 1"
    assert image.attempts == 2


def test_it_raises_rate_limited_when_retry_after_passes_the_deadline(fake_provider):
    provider = make_http_provider(fake_provider, deadline_s=5)

    with pytest.raises(ProviderRateLimited) as raised:
        generate(provider, make_request("A lighthouse [fault:429:30]"))

    assert raised.value.retry_after_s == 30
    assert len(fake_provider.requests) == 1
    assert (
        "Not retried: the wait before a retry would have passed the time limit." in raised.value.user_message
    )


@pytest.mark.parametrize("status", [401, 403])
def test_it_raises_auth_error_without_retrying(fake_provider, status):
    with pytest.raises(ProviderAuthError) as raised:
        generate(make_http_provider(fake_provider), make_request(f"A lighthouse [fault:{status}]"))

    assert raised.value.status_code == status
    assert len(fake_provider.requests) == 1


def test_it_raises_auth_error_for_a_wrong_api_key(fake_provider):
    with pytest.raises(ProviderAuthError) as raised:
        generate(make_http_provider(fake_provider, api_key="wrong-key"), make_request())

    assert raised.value.provider_code == "invalid_api_key"
    assert "ZIMAGE_API_KEY" in raised.value.user_message


def test_it_shows_the_providers_reason_for_a_refused_prompt(fake_provider):
    with pytest.raises(ProviderRejectedError) as raised:
        generate(make_http_provider(fake_provider), make_request("A lighthouse [fault:400]"))

    assert "Input data may contain inappropriate content." in raised.value.user_message
    assert raised.value.provider_code == "data_inspection_failed"
    assert len(fake_provider.requests) == 1


@pytest.mark.parametrize(
    ("overrides", "request_fields", "status", "code"),
    [
        ({"model": "z-image-ultra"}, {}, 404, "model_not_found"),
        ({}, {"width": 256, "height": 256}, 400, "invalid_size"),
    ],
)
def test_it_raises_rejected_for_an_invalid_request(fake_provider, overrides, request_fields, status, code):
    with pytest.raises(ProviderRejectedError) as raised:
        generate(make_http_provider(fake_provider, **overrides), make_request(**request_fields))

    assert (raised.value.status_code, raised.value.provider_code) == (status, code)
    assert len(fake_provider.requests) == 1


def test_it_treats_an_html_gateway_page_as_unavailable(fake_provider):
    with pytest.raises(ProviderUnavailable) as raised:
        generate(make_http_provider(fake_provider, max_attempts=1), make_request("A lighthouse [fault:html]"))

    assert raised.value.status_code == 502
    assert raised.value.detail == "HTTP 502 Bad Gateway"
    assert raised.value.provider_code == ""


@pytest.mark.parametrize("fault", ["garbage", "empty-data", "no-url", "bad-b64"])
def test_it_raises_response_error_for_a_malformed_reply(fake_provider, fault):
    with pytest.raises(ProviderResponseError) as raised:
        generate(make_http_provider(fake_provider), make_request(f"A lighthouse [fault:{fault}]"))

    assert raised.value.request_id
    assert len(fake_provider.requests) == 1


def test_it_raises_download_error_for_an_expired_url(fake_provider):
    with pytest.raises(ImageDownloadError) as raised:
        generate(make_http_provider(fake_provider), make_request("A lighthouse [fault:expired-url]"))

    assert type(raised.value) is ImageDownloadError
    assert "403" in raised.value.detail


@pytest.mark.parametrize("fault", ["oversized", "oversized-nolength"])
def test_it_refuses_an_image_over_the_size_limit(fake_provider, fault):
    with pytest.raises(ImageTooLargeError):
        generate(make_http_provider(fake_provider), make_request(f"A lighthouse [fault:{fault}]"))

    assert fake_provider.bytes_streamed < OVERSIZED_BYTES / 2, "it stops reading at the limit (8 MiB here)"


def test_it_passes_through_bytes_that_are_not_an_image(fake_provider):
    image = generate(make_http_provider(fake_provider), make_request("A lighthouse [fault:not-image]"))

    assert image.data == NOT_AN_IMAGE


def test_it_passes_provider_text_through_unescaped(fake_provider):
    image = generate(
        make_http_provider(fake_provider),
        make_request("A lighthouse [fault:unsafe-text]", prompt_extend=True),
    )

    assert UNSAFE_TEXT in image.revised_prompt
    assert UNSAFE_TEXT in image.reasoning


def test_it_retries_a_refused_connection_then_raises_connection_error(
    fake_provider, refused_base_url, pauses
):
    provider = make_http_provider(fake_provider, base_url=refused_base_url, max_attempts=2)

    with pytest.raises(ProviderConnectionError) as raised:
        generate(provider, make_request())

    assert type(raised.value) is ProviderConnectionError
    assert len(pauses) == 1
    assert 0.375 <= pauses[0] <= 0.625, "one backoff of 0.5 s, ±25 % jitter, between the two attempts"


def test_the_failures_a_retry_cannot_mend_are_codes_the_client_raises():
    def codes(error_class: type[ProviderError]) -> set[str]:
        return {error_class.code}.union(*(codes(subclass) for subclass in error_class.__subclasses__()))

    assert codes(ProviderError) >= FAILURES_A_RETRY_CANNOT_MEND
    assert {ProviderRejectedError.code, ProviderAuthError.code} <= FAILURES_A_RETRY_CANNOT_MEND
