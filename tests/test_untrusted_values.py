"""The sweep of untrusted values that reach redirect(), compare_digest() or int(): each answers 4xx or the
default, never a 500, and a secret shown once is never cached.

- `next` and the Referer: only a path that resolve()s to one of our pages is followed (a bare word was a URL
  name to redirect(), a 500); the same rule for htmx's HX-Current-URL.
- `/metrics`'s token is compared as bytes (compare_digest refuses a str that is not ASCII).
- Numbers typed by people or sent by the provider: a gallery cursor, a seed list, a Retry-After.
"""

from __future__ import annotations

import httpx
import pytest
import respx
from django.urls import reverse

from generations.models import Generation
from generations.provider.client import HttpProvider
from generations.provider.errors import ProviderRateLimited
from tests.conftest import run_async
from tests.factories import make_generation, make_parameters, make_user

GALLERY = reverse("generations:gallery")
SELECTION = reverse("generations:gallery-selection")

NOT_OUR_PAGES = [
    "foo",
    "%ff",
    "/nowhere/",
    "//evil.example/gallery/",
    "https://evil.example/gallery/",
    "javascript:alert(1)",
    "/gallery/\nLocation: https://evil.example/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("candidate", NOT_OUR_PAGES)
def test_a_next_that_is_not_one_of_our_pages_goes_to_the_gallery(client, candidate):
    generation = make_generation()
    picked = {"id": generation.public_id, "operation": "favourite"}

    in_the_form = client.post(SELECTION, picked | {"next": candidate})
    in_the_referer = client.post(SELECTION, picked, headers={"Referer": candidate})

    for answer in (in_the_form, in_the_referer):
        assert answer.status_code in (302, 400), answer.status_code
        if answer.status_code == 302:
            assert answer.url == GALLERY
    generation.refresh_from_db()
    assert generation.is_favourite or in_the_form.status_code == 400


@pytest.mark.django_db
def test_a_next_that_is_one_of_our_pages_is_followed_path_and_query_only(client):
    generation = make_generation()
    picked = {"id": generation.public_id, "operation": "favourite"}

    by_path = client.post(SELECTION, picked | {"next": "/gallery/?q=cat"})
    by_referer = client.post(SELECTION, picked, headers={"Referer": "http://testserver/gallery/?owner=mine"})

    assert by_path.url == "/gallery/?q=cat"
    assert by_referer.url == "/gallery/?owner=mine"


@pytest.mark.django_db
def test_a_refused_retry_sends_htmx_back_only_to_one_of_our_pages(client, settings, demo_mode):
    settings.MAX_QUEUED_GENERATIONS = 1
    original = make_generation()  # queued: the queue is full

    answer = client.post(
        reverse("generations:retry", args=[original.public_id]),
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/"},
    )

    assert answer["HX-Redirect"] == original.get_absolute_url()
    assert Generation.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("token", "sent", "status"),
    [
        ("metrics-secret", b"Bearer caf\xe9", 401),
        ("metrics-secret", b"Bearer \xff\xfe", 401),
        ("metrics-secret", b"Bearer metrics-secret", 200),
        ("caf\u00e9", "Bearer caf\u00e9".encode(), 200),
    ],
)
def test_the_metrics_token_is_compared_as_bytes(asgi_server, settings, token, sent, status):
    settings.METRICS_TOKEN = token

    answer = httpx.get(f"{asgi_server}/metrics", headers={"Authorization": sent})

    assert answer.status_code == status


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", ["\u00b2.abc", "9" * 5000 + ".abc", "1e9.abc"])
def test_a_mangled_gallery_cursor_starts_from_the_top(client, cursor):
    assert client.get(GALLERY, {"after": cursor}).status_code == 200
    assert client.get(GALLERY, {"until": cursor}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("seeds", ["\u00b2", "9" * 2000, "-1", "1e3"])
def test_a_seed_list_that_is_not_seeds_is_a_form_error(client, seeds):
    form = {"prompts": "A fox", "seed_list": seeds, "sizes": ["1024x1024"], "extend": "off"}

    answer = client.post(reverse("generations:batch-preview"), form)

    assert answer.status_code == 200
    assert "The seed is a whole number" in answer.text


@respx.mock
def test_a_retry_after_that_is_not_a_number_of_seconds_asks_for_no_wait(pauses):
    provider = HttpProvider(
        base_url="https://provider.test/v1",
        api_key="k",
        model="z-image-turbo",
        deadline_s=10.0,
        connect_timeout_s=2.0,
        max_attempts=2,
        max_image_bytes=1024,
    )
    respx.post("https://provider.test/v1/images/generations").respond(429, headers={"Retry-After": "nan"})

    with pytest.raises(ProviderRateLimited) as refused:
        run_async(provider.generate, make_parameters())

    assert pauses == [], "a 429 goes back to the pace at once"
    assert not refused.value.retry_after_s, "no wait, rather than a wait of nan seconds"


@pytest.mark.django_db
def test_the_page_that_shows_a_new_token_is_never_cached(client):
    client.force_login(make_user())

    answer = client.post(reverse("generations:api-tokens"), {"name": "script"})

    assert "zimg_" in answer.text
    assert "no-store" in answer["Cache-Control"]
