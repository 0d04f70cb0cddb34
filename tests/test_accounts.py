"""Signing in, spending limits, tokens, who may delete what, the CSP, and the provider key staying secret."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.views.debug import technical_500_response

from generations.domain import ErrorCode
from generations.models import ApiToken, Generation, GenerationStatus
from generations.services.limits import GenerationRefused
from generations.services.tokens import api_token_create, api_token_user
from tests.factories import FORM, PASSWORD, create_generation, finish, make_generation, make_user

pytestmark = pytest.mark.django_db

PROVIDER_KEY = "sk-super-secret-provider-key"


@pytest.fixture
def alice():
    return make_user("alice")


@pytest.fixture
def deployed(settings):
    settings.REQUIRE_LOGIN = True


def test_a_deployed_playground_asks_to_sign_in_before_generating(client, deployed, demo_mode):
    page = client.get(reverse("generations:home")).text
    assert "asks you to" in page
    assert 'id="generation-form"' not in page

    response = client.post(reverse("generations:new"), FORM)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert Generation.objects.count() == 0


def test_htmx_posts_are_sent_to_the_sign_in_page_too(client, deployed, demo_mode):
    response = client.post(reverse("generations:new"), FORM, HTTP_HX_REQUEST="true")
    assert response.headers["HX-Redirect"].startswith(reverse("login"))


def test_a_signed_in_user_generates_and_owns_the_result(client, deployed, demo_mode, alice):
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    client.post(reverse("generations:new"), FORM)
    assert Generation.objects.get().user == alice


def test_the_sign_in_page_is_the_sites_own(client):
    page = client.get(reverse("login")).text
    assert "<h1>Sign in</h1>" in page
    assert "playground.css" in page


def test_share_links_and_the_gallery_stay_open_without_signing_in(client, deployed):
    generation = make_generation()
    assert client.get(generation.get_absolute_url()).status_code == 200
    assert client.get(reverse("generations:gallery")).status_code == 200


def test_the_per_minute_limit_refuses_with_when_it_resets(alice, settings, demo_mode):
    settings.LIMIT_PER_MINUTE = 2
    for _ in range(2):
        create_generation(prompt="A fox", user=alice)

    with pytest.raises(GenerationRefused) as refused:
        create_generation(prompt="A fox", user=alice)

    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert "limit of 2 images a minute" in refused.value.user_message
    assert 1 <= refused.value.retry_after_s <= 61
    assert Generation.objects.count() == 2


def test_the_daily_limit_counts_the_last_24_hours(alice, settings, demo_mode):
    settings.LIMIT_PER_DAY = 1
    old = make_generation(user=alice)
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    create_generation(prompt="A fox", user=alice)

    with pytest.raises(GenerationRefused, match="limit of 1 images a day"):
        create_generation(prompt="A fox", user=alice)


def test_a_limit_shows_as_a_form_message_and_nothing_is_recorded(client, alice, settings, demo_mode):
    settings.LIMIT_PER_MINUTE = 1
    make_generation(user=alice)
    client.force_login(alice)

    response = client.post(reverse("generations:new"), FORM, HTTP_HX_REQUEST="true")

    assert "You have reached your limit of 1 images a minute" in response.text
    assert "A red bicycle</textarea>" in response.text, "the prompt is kept"
    assert Generation.objects.count() == 1


def test_one_person_may_have_only_so_many_images_unfinished(alice, settings, demo_mode):
    settings.LIMIT_QUEUED_PER_USER = 2
    make_generation(user=alice)
    make_generation(user=alice, status=GenerationStatus.RUNNING)
    make_generation(user=alice, status=GenerationStatus.SUCCEEDED)

    with pytest.raises(GenerationRefused) as refused:
        create_generation(prompt="A fox", user=alice)

    assert refused.value.code == "too_many_queued"
    assert "2 images queued or in progress" in refused.value.user_message


def test_a_token_is_shown_once_and_stored_only_as_a_hash(client, alice):
    client.force_login(alice)

    page = client.post(reverse("generations:api-tokens"), {"name": "batch"}).text

    token = ApiToken.objects.get()
    shown = page.split('<code id="new-token">')[1].split("</code>")[0]
    assert shown.startswith("zimg_")
    assert shown not in token.token_hash
    assert token.prefix == shown[:11]
    assert api_token_user(shown) == alice
    assert shown not in client.get(reverse("generations:api-tokens")).text


def test_a_user_revokes_only_their_own_tokens(client, alice, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    bobs_token, bobs_plaintext = api_token_create(user=bob, name="bob's")
    alices_token, alices_plaintext = api_token_create(user=alice, name="alice's")
    client.force_login(alice)

    client.post(reverse("generations:api-token-revoke"), {"token": bobs_token.pk})
    client.post(reverse("generations:api-token-revoke"), {"token": alices_token.pk})

    assert api_token_user(bobs_plaintext) == bob
    assert api_token_user(alices_plaintext) is None


def test_only_the_maker_or_staff_may_delete(client, alice, django_user_model, deployed):
    bob = django_user_model.objects.create_user("bob")
    generation = make_generation(user=bob)
    delete_url = reverse("generations:delete", args=[generation.public_id])
    client.force_login(alice)

    assert client.post(delete_url).status_code == 403
    assert "Delete…" not in client.get(generation.get_absolute_url()).text
    assert Generation.objects.live().filter(pk=generation.pk).exists()

    client.force_login(bob)
    assert client.post(delete_url).status_code == 302
    assert not Generation.objects.live().filter(pk=generation.pk).exists()


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get(reverse("generations:home"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.text, "htmx's script tag carries the nonce"


def test_the_usage_page_shows_figures_per_day_and_person(client, alice):
    make_generation(user=alice, provider_latency_ms=2000, prompt_extend=True)
    make_generation(user=alice, provider_latency_ms=4000)
    make_generation(status=GenerationStatus.FAILED, error_code="provider_timeout")

    page = client.get(reverse("generations:usage")).text

    assert '<title id="chart-title">Images per day</title>' in page
    assert '<th scope="row">alice</th><td>2</td>' in page
    assert "3000 ms" in page
    assert "<code>provider_timeout</code>" in page


def test_the_provider_key_never_reaches_pages_or_logs(client, settings, use_fake_provider, caplog):
    settings.ZIMAGE_API_KEY = use_fake_provider.api_key = PROVIDER_KEY
    caplog.set_level(logging.DEBUG)
    failed = make_generation(prompt="A fox [fault:401]")
    finish(failed)
    succeeded = make_generation(prompt="A fox", prompt_extend=True)
    finish(succeeded)

    pages = [
        client.get(url).text
        for url in (
            reverse("generations:home"),
            reverse("generations:gallery"),
            failed.get_absolute_url(),
            succeeded.get_absolute_url(),
            reverse("generations:usage"),
        )
    ]

    assert Generation.objects.get(pk=succeeded.pk).status == GenerationStatus.SUCCEEDED
    assert all(PROVIDER_KEY not in page for page in pages)
    assert PROVIDER_KEY not in caplog.text


def test_even_a_debug_error_page_masks_the_provider_key(settings, rf):
    settings.DEBUG = True
    settings.ZIMAGE_API_KEY = PROVIDER_KEY  # the page shows this source line, so the key is not written here
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        response = technical_500_response(rf.get("/"), *sys.exc_info())

    assert b"ZIMAGE_API_KEY" in response.content
    assert PROVIDER_KEY.encode() not in response.content


def test_a_crash_shows_the_plain_error_page_without_the_key(client, settings, monkeypatch):
    settings.ZIMAGE_API_KEY = PROVIDER_KEY
    client.raise_request_exception = False

    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("generations.gallery_views.gallery_page", crash)
    response = client.get(reverse("generations:gallery"))

    assert response.status_code == 500
    assert "Your generations are safe" in response.text
    assert PROVIDER_KEY not in response.text


def test_the_admin_lists_generations_with_search_and_filters(admin_client):
    make_generation(prompt="A fox in the snow", status=GenerationStatus.FAILED)
    make_generation(prompt="A lighthouse")

    page = admin_client.get("/admin/generations/generation/", {"q": "fox", "status__exact": "failed"}).text

    assert "A fox in the snow" in page
    assert "A lighthouse" not in page
