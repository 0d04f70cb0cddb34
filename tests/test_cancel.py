"""Cancel follows the delete rule: only the maker (on an open instance, the browser session that made it) or staff
may cancel a generation or a batch; others get 403 in the page's own format and see no Cancel button."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import reverse

from generations.models import Batch, Generation, GenerationStatus
from playground.errors import permission_denied
from tests.factories import FORM, make_generation, make_user

pytestmark = pytest.mark.django_db

BATCH_FORM = {"prompts": "A {red|blue} bicycle", "seed_list": "1, 2", "sizes": ["1024x1024"], "extend": "off"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cancel_url(made: Generation | Batch) -> str:
    name = "generations:batch-cancel" if isinstance(made, Batch) else "generations:cancel"
    return reverse(name, args=[made.public_id])


def test_a_signed_in_person_cannot_cancel_anothers_generation_or_batch(settings, demo_mode):
    settings.REQUIRE_LOGIN = True
    alice, bob = signed_in(make_user("alice")), signed_in(make_user("bob"))
    alice.post(reverse("generations:new"), FORM)
    alice.post(reverse("generations:batch-new"), BATCH_FORM)
    generation, batch = Generation.objects.get(batch=None), Batch.objects.get()

    for made in (generation, batch):
        refused = bob.post(cancel_url(made))
        assert refused.status_code == 403
        assert "Only the person who made" in refused.text
        assert "playground.css" in refused.text, "the site's own page"
    assert set(Generation.objects.values_list("status", flat=True)) == {GenerationStatus.QUEUED}
    assert "Cancel" not in bob.get(generation.get_absolute_url()).text
    assert "cells not yet sent" not in bob.get(batch.get_absolute_url()).text

    assert "Cancel" in alice.get(generation.get_absolute_url()).text
    assert "cells not yet sent" in alice.get(batch.get_absolute_url()).text
    assert alice.post(cancel_url(generation)).status_code == 302
    assert alice.post(cancel_url(batch)).status_code == 302
    assert set(Generation.objects.values_list("status", flat=True)) == {GenerationStatus.CANCELLED}


def test_on_an_open_instance_only_the_browser_session_that_made_it_may_cancel(client, demo_mode):
    client.post(reverse("generations:new"), FORM)
    client.post(reverse("generations:batch-new"), BATCH_FORM)
    generation, batch = Generation.objects.get(batch=None), Batch.objects.get()
    stranger = Client()

    assert stranger.post(cancel_url(generation)).status_code == 403
    assert stranger.post(cancel_url(batch)).status_code == 403
    assert '<span class="tool-label">Cancel</span>' not in stranger.get(reverse("generations:home")).text
    assert set(Generation.objects.values_list("status", flat=True)) == {GenerationStatus.QUEUED}

    assert '<span class="tool-label">Cancel</span>' in client.get(reverse("generations:home")).text
    assert client.post(cancel_url(batch)).status_code == 302
    assert client.post(cancel_url(generation)).status_code == 302
    assert set(Generation.objects.values_list("status", flat=True)) == {GenerationStatus.CANCELLED}


def test_staff_may_cancel_anyones_work(admin_client, settings, demo_mode):
    settings.REQUIRE_LOGIN = True
    alice = signed_in(make_user("alice"))
    alice.post(reverse("generations:batch-new"), BATCH_FORM)
    generation = make_generation(user=make_user("bob"))

    assert admin_client.post(cancel_url(Batch.objects.get())).status_code == 302
    assert admin_client.post(cancel_url(generation)).status_code == 302
    assert set(Generation.objects.values_list("status", flat=True)) == {GenerationStatus.CANCELLED}


def test_a_refused_cancel_from_htmx_is_a_403_and_the_card_stays(client, demo_mode):
    generation = make_generation(maker_session="someone-else")

    refused = client.post(cancel_url(generation), headers={"HX-Request": "true"})

    assert refused.status_code == 403
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.QUEUED


def test_a_permission_denied_under_v1_is_openai_shaped():
    answer = permission_denied(RequestFactory().get("/v1/models"), PermissionDenied("Not yours."))

    assert answer.status_code == 403
    assert json.loads(answer.content)["error"] == {
        "message": "Not yours.",
        "type": "invalid_request_error",
        "param": None,
        "code": "permission_denied",
    }
