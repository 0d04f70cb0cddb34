"""The playground's own OpenAI-compatible API, driven by the official openai package, curl and raw HTTP."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from generations.models import ApiToken, Generation, GenerationSource
from tests.fake_provider import ROOM_TO_CONNECT_S

pytestmark = pytest.mark.django_db(transaction=True)


def post(api, body: dict, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or api['token']}"}
    return httpx.post(f"{api['base_url']}/images/generations", json=body, headers=headers, timeout=30)


def test_the_providers_python_example_works_with_only_base_url_and_key_changed(api):
    client = openai.OpenAI(base_url=api["base_url"], api_key=api["token"])

    result = client.images.generate(
        model="z-image-turbo",
        prompt="A cute orange tabby cat basking in sunlight on a windowsill",
        size="1024x1536",
        n=1,
        extra_body={"parameters": {"prompt_extend": True, "seed": 42}},
    )

    [item] = result.data or []
    generation = Generation.objects.get()
    assert item.url == f"{api['origin']}/g/{generation.public_id}/image/"
    assert item.revised_prompt == generation.revised_prompt != ""
    assert item.model_extra
    assert item.model_extra["reasoning_content"] == generation.reasoning
    assert (generation.seed, generation.user, generation.source) == (42, api["user"], GenerationSource.API)
    assert httpx.get(item.url).content[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_providers_curl_example_works(api):
    body = {
        "model": "z-image-turbo",
        "prompt": "A cute orange tabby cat basking in sunlight on a windowsill",
        "size": "1024x1536",
        "n": 1,
        "parameters": {"prompt_extend": True, "seed": 42},
    }
    curl = shutil.which("curl")
    assert curl, "curl is part of the CI machine"
    completed = subprocess.run(
        [
            curl,
            "-sS",
            f"{api['base_url']}/images/generations",
            "-H",
            f"Authorization: Bearer {api['token']}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(body),
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    reply = json.loads(completed.stdout)
    assert reply["data"][0]["url"].startswith(api["origin"])
    assert "revised_prompt" in reply["data"][0]


def test_it_answers_b64_json_when_asked(api):
    reply = post(api, {"model": "z-image-turbo", "prompt": "A fox", "response_format": "b64_json"}).json()
    assert base64.b64decode(reply["data"][0]["b64_json"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "revised_prompt" not in reply["data"][0]


def test_it_lists_the_model_and_answers_it_by_id(api):
    client = openai.OpenAI(base_url=api["base_url"], api_key=api["token"])
    assert [model.id for model in client.models.list()] == ["z-image-turbo"]
    assert client.models.retrieve("z-image-turbo").id == "z-image-turbo"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("dall-e-3")


@pytest.mark.parametrize(
    ("arguments", "param", "message"),
    [
        ({"quality": "hd"}, "quality", "Unrecognized request argument supplied: quality."),
        ({"style": "vivid"}, "style", "Unrecognized request argument supplied: style."),
        ({"extra_body": {"foo": 1}}, "foo", "Unrecognized request argument supplied: foo."),
        (
            {"extra_body": {"parameters": {"seed": 1, "watermark": False}}},
            "parameters.watermark",
            "Unrecognized request argument supplied: parameters.watermark.",
        ),
        (
            {"extra_body": {"parameters": {"negative_prompt": "blurry"}}},
            "parameters.negative_prompt",
            "z-image-turbo has no negative prompt",
        ),
        (
            {"extra_body": {"negative_prompt": "blurry"}},
            "negative_prompt",
            "z-image-turbo has no negative prompt",
        ),
    ],
)
def test_an_argument_the_model_does_not_take_is_a_400_naming_it_and_nothing_is_billed(
    api, arguments, param, message
):
    client = openai.OpenAI(base_url=api["base_url"], api_key=api["token"])

    with pytest.raises(openai.BadRequestError) as raised:
        client.images.generate(model="z-image-turbo", prompt="A fox", size="1024x1024", **arguments)

    body = raised.value.body
    assert isinstance(body, dict)
    assert body["param"] == param
    assert body["code"] == "unknown_parameter"
    assert message in body["message"]
    assert Generation.objects.count() == 0
    assert api["fake"].requests == []


def test_openais_end_user_field_is_accepted(api):
    assert post(api, {"model": "z-image-turbo", "prompt": "A fox", "user": "user-1234"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "z-image-turbo"}, 400, "invalid_prompt"),
        ({"model": "dall-e-3", "prompt": "A fox"}, 404, "model_not_found"),
        ({"model": "z-image-turbo", "prompt": "A fox", "size": "100x100"}, 400, "invalid_size"),
        ({"model": "z-image-turbo", "prompt": "A fox", "n": 2}, 400, "invalid_n"),
        ({"model": "z-image-turbo", "prompt": "A fox", "parameters": {"seed": -1}}, 400, "invalid_seed"),
        (
            {"model": "z-image-turbo", "prompt": "A fox", "response_format": "png"},
            400,
            "invalid_response_format",
        ),
    ],
)
def test_bad_requests_get_openai_style_errors_and_reach_no_provider(api, body, status, code):
    response = post(api, body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert Generation.objects.count() == 0


def test_a_wrong_or_revoked_token_is_refused(api):
    assert post(api, {"model": "z-image-turbo", "prompt": "A fox"}, token="zimg_wrong").status_code == 401
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=api["base_url"], api_key=api["token"]).models.list()


def test_a_provider_refusal_is_passed_on_as_a_400_and_recorded(api):
    response = post(api, {"model": "z-image-turbo", "prompt": "A fox [fault:400]"})
    assert response.status_code == 400
    assert "inappropriate content" in response.json()["error"]["message"]
    assert Generation.objects.get().status == "failed"


def test_the_per_minute_limit_answers_429_with_retry_after(api, settings):
    settings.LIMIT_PER_MINUTE = 1
    assert post(api, {"model": "z-image-turbo", "prompt": "A fox"}).status_code == 200

    refused = post(api, {"model": "z-image-turbo", "prompt": "A fox"})

    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "limit of 1 images a minute" in refused.json()["error"]["message"]
    assert Generation.objects.count() == 1


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        ("500", openai.InternalServerError, "provider_unavailable"),
        ("timeout", openai.APIStatusError, "provider_timeout"),
        ("garbage", openai.APIStatusError, "bad_response"),
        ("400", openai.BadRequestError, "provider_rejected"),
    ],
)
def test_a_failed_call_costs_one_provider_request_even_with_the_sdks_default_retries(
    api, settings, fault, error, code
):
    settings.ZIMAGE_MAX_ATTEMPTS = 1
    settings.ZIMAGE_DEADLINE_S = ROOM_TO_CONNECT_S  # what ends the timeout's call
    client = openai.OpenAI(base_url=api["base_url"], api_key=api["token"])  # max_retries=2, the default

    with pytest.raises(error) as raised:
        client.images.generate(model="z-image-turbo", prompt=f"A fox [fault:{fault}]", size="1024x1024")

    assert raised.value.response.headers["x-should-retry"] == "false"
    assert raised.value.body["code"] == code
    assert len(api["fake"].wait_for_requests(1)) == 1, "the SDK did not repeat the paid call"
    assert Generation.objects.get().status == "failed"


def test_calls_waiting_on_a_slow_provider_leave_the_site_answering(api, settings):
    settings.LIMIT_PER_MINUTE = 100
    settings.PROVIDER_MAX_CONCURRENT = 12
    api["fake"].latency_s = 1.5
    calls = 12

    with ThreadPoolExecutor(max_workers=calls) as pool:
        # Held by the fake until the pages have answered: every call waits on the provider meanwhile.
        prompts = [f"Slow fox {index} [fault:hold]" for index in range(calls)]
        answers = [pool.submit(post, api, {"model": "z-image-turbo", "prompt": prompt}) for prompt in prompts]
        api["fake"].wait_for(lambda: api["fake"].in_flight == calls, f"{calls} calls waiting on the provider")
        for path in ("/healthz", "/gallery/", "/accounts/login/"):
            assert httpx.get(f"{api['origin']}{path}", timeout=30).status_code == 200
        assert not any(answer.done() for answer in answers), "the pages answered while every call waited"
        api["fake"].release()

        assert [answer.result().status_code for answer in answers] == [200] * calls
