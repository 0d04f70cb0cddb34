"""Budgets in money (a person's day and month, the team's month) and visitors of an open instance held to the same
limits, all checked in the transaction that queues the work, so that they hold under simultaneous requests."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from generations.domain import ErrorCode
from generations.models import Generation, PersonBudget
from generations.services.limits import GenerationRefused
from tests.factories import (
    create_generation,
    form_data,
    make_batch,
    make_generation,
    make_token,
    make_user,
    post_at_once,
    signed_in,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def priced(settings, use_fake_provider):
    """The real provider's price ($0.015 an image, the table's default), with no budget unless a spec sets one."""
    settings.BUDGET_USER_DAY = settings.BUDGET_USER_MONTH = settings.BUDGET_TEAM_MONTH = Decimal(0)
    return use_fake_provider


def spend(amount: str, **fields) -> Generation:
    """A generation made earlier today that cost `amount`."""
    return make_generation(price=Decimal(amount), status="succeeded", **fields)


def test_a_batch_that_would_pass_todays_budget_is_refused_whole_with_the_numbers(priced, settings):
    settings.BUDGET_USER_DAY = Decimal("2.00")
    alice = make_user("alice")
    spend("1.60", user=alice)

    with pytest.raises(GenerationRefused) as refused:
        make_batch(prompts=[f"Prompt {index}" for index in range(40)], seeds=[1], user=alice)

    assert refused.value.code == ErrorCode.BUDGET_EXCEEDED
    assert refused.value.user_message.startswith(
        "This batch would cost about $0.60; $0.40 of today's budget of $2.00 is left. It comes back at "
    )
    assert Generation.objects.count() == 1, "nothing of the batch was recorded"
    make_batch(prompts=[f"Prompt {index}" for index in range(26)], seeds=[1], user=alice)  # $0.39 fits


def test_the_month_and_the_teams_budgets_are_checked_too(priced, settings):
    settings.BUDGET_TEAM_MONTH = Decimal("5.00")
    alice, bob = make_user("alice"), make_user("bob")
    PersonBudget.objects.create(user=alice, per_month=Decimal("1.00"))
    spend("0.99", user=alice)
    spend("4.00", user=bob)

    with pytest.raises(GenerationRefused, match=re.escape("of this month's budget of $1.00 is left")):
        create_generation(user=alice)
    with pytest.raises(
        GenerationRefused, match=re.escape("$0.01 of the team's monthly budget of $5.00 is left")
    ):
        create_generation(user=bob)


def test_a_persons_own_budget_set_by_staff_replaces_the_default(priced, settings):
    settings.BUDGET_USER_DAY = Decimal("10")
    alice = make_user("alice")
    PersonBudget.objects.create(user=alice, per_day=Decimal("0.03"))
    create_generation(user=alice)
    create_generation(user=alice)

    with pytest.raises(GenerationRefused, match=re.escape("of today's budget of $0.03 is left")):
        create_generation(user=alice)
    create_generation(user=make_user("bob"))  # everyone else keeps the setting's


def test_what_was_not_billed_does_not_count_against_a_budget(priced, settings):
    settings.BUDGET_USER_DAY = Decimal("0.02")
    alice = make_user("alice")
    make_generation(user=alice, price=Decimal("0.015"), status="failed", error_code="provider_unavailable")

    create_generation(user=alice)


def test_offline_demo_images_cost_nothing_and_spend_no_budget(settings, demo_mode):
    settings.BUDGET_USER_DAY = Decimal("0.01")
    alice = make_user("alice")

    generations = [create_generation(user=alice) for _ in range(3)]

    assert {generation.price for generation in generations} == {Decimal(0)}


@pytest.mark.django_db(transaction=True)
def test_a_persons_budget_holds_when_30_of_their_posts_arrive_at_once(asgi_server, priced, settings):
    settings.BUDGET_USER_DAY = Decimal("0.15")  # ten images
    alice = make_user("alice")
    client, token = signed_in(asgi_server, alice)

    statuses = post_at_once([(client, token, f"At once {index}") for index in range(30)])

    assert statuses == [200] * 30, "a refusal is the form with its message, never an error"
    assert Generation.objects.filter(user=alice).count() == 10


@pytest.mark.django_db(transaction=True)
def test_the_teams_budget_holds_when_30_posts_of_six_people_arrive_at_once(asgi_server, priced, settings):
    settings.BUDGET_TEAM_MONTH = Decimal("0.15")
    sessions = [signed_in(asgi_server, make_user(f"person{index}")) for index in range(6)]

    post_at_once([(client, token, f"At once {index}") for client, token in sessions for index in range(5)])

    assert Generation.objects.count() == 10


def test_the_api_answers_a_spent_budget_with_an_openai_shaped_429_naming_it(served, priced, settings):
    settings.BUDGET_USER_DAY = Decimal("0.01")
    token = make_token(make_user("alice"))

    response = served.post(
        "/v1/images/generations",
        json={"model": "z-image-turbo", "prompt": "A fox"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
    assert error["message"].startswith(
        "This image would cost about $0.015; $0.01 of today's budget of $0.01 is left"
    )
    assert response.headers["x-should-retry"] == "false", "the SDKs' retries would only be refused again"
    assert int(response.headers["Retry-After"]) <= 24 * 3600
    assert not Generation.objects.exists()


def test_pages_warn_from_80_percent_of_a_budget(client, priced, settings):
    settings.BUDGET_USER_DAY = Decimal("2.00")
    alice = make_user("alice")
    client.force_login(alice)
    spend("1.50", user=alice)
    assert "budget-banner" not in client.get(reverse("generations:home")).text

    spend("0.20", user=alice)

    for page in ("generations:home", "generations:batch-new"):
        assert (
            "85 % of today&#x27;s budget</strong> is used: $1.70 of $2.00." in client.get(reverse(page)).text
        )


def test_a_refused_form_says_what_it_would_cost_and_what_is_left(client, priced, settings):
    settings.BUDGET_USER_DAY = Decimal("0.02")
    alice = make_user("alice")
    client.force_login(alice)
    spend("0.01", user=alice)

    response = client.post(reverse("generations:new"), form_data(), headers=HTMX)

    assert (
        "This image would cost about $0.015; $0.01 of today&#x27;s budget of $0.02 is left." in response.text
    )


# Visitors of an open instance (REQUIRE_LOGIN off, as `make run` has it).


def visitor(address: str = "203.0.113.7") -> Client:
    """A browser of its own (cookies, so a session) at `address`."""
    return Client(REMOTE_ADDR=address)


def test_a_visitor_is_held_to_the_limits_and_a_100_image_batch_is_refused_with_the_numbers(
    settings, demo_mode
):
    settings.LIMIT_PER_MINUTE = 5
    browser = visitor()

    for index in range(12):
        browser.post(reverse("generations:new"), form_data(prompt=f"Visitor {index}"), headers=HTMX)
    refusals = [
        browser.post(
            reverse("generations:batch-new"),
            {"prompts": "A fox", "seed_count": "100", "sizes": "1024x1024", "extend": "off"},
            headers=HTMX,
        ).text
        for _ in range(3)
    ]

    assert Generation.objects.count() == 5, "not 312: the visitor's limit of 5 a minute held"
    assert all(
        "This batch asks for 100 images, more than your limit of 5 images a minute" in page
        for page in refusals
    )


def test_clearing_cookies_does_not_reset_a_visitors_limits(settings, demo_mode):
    settings.LIMIT_PER_MINUTE = 3
    for _ in range(3):
        visitor().post(
            reverse("generations:new"), form_data(), headers=HTMX
        )  # a new browser session each time

    page = visitor().post(reverse("generations:new"), form_data(), headers=HTMX).text

    assert "You have reached your limit of 3 images a minute" in page
    assert Generation.objects.count() == 3
    assert (
        visitor("198.51.100.20").post(reverse("generations:new"), form_data(), headers=HTMX).status_code
        == 200
    )
    assert Generation.objects.count() == 4, "a visitor elsewhere has limits of their own"


def test_a_visitor_cannot_name_another_address_in_a_header(settings, demo_mode):
    settings.LIMIT_PER_MINUTE = 1
    visitor().post(reverse("generations:new"), form_data(), headers=HTMX)

    page = (
        visitor()
        .post(reverse("generations:new"), form_data(), HTTP_X_FORWARDED_FOR="10.9.9.9", headers=HTMX)
        .text
    )

    assert "You have reached your limit of 1 images a minute" in page


def test_a_visitors_budget_counts_their_session_and_their_address(priced, settings):
    settings.BUDGET_USER_DAY = Decimal("0.03")
    spend("0.01", maker_session="their-old-session", client_address="203.0.113.7")
    browser = visitor()

    browser.post(reverse("generations:new"), form_data(), headers=HTMX)
    page = browser.post(reverse("generations:new"), form_data(), headers=HTMX).text

    assert "of today&#x27;s budget of $0.03 is left" in page
    assert Generation.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_visitors_limits_hold_when_requests_of_fresh_sessions_arrive_at_once(
    asgi_server, settings, demo_mode
):
    settings.LIMIT_PER_MINUTE = 5
    browsers = [signed_in(asgi_server, None) for _ in range(20)]  # 20 sessions, one address

    post_at_once([(client, token, f"At once {index}") for index, (client, token) in enumerate(browsers)])

    assert Generation.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_behind_a_trusted_proxy_each_forwarded_address_is_a_visitor_of_its_own(
    asgi_server, settings, demo_mode
):
    settings.LIMIT_PER_MINUTE = 1
    # The test server trusts 127.0.0.1 as its proxy (uvicorn's FORWARDED_ALLOW_IPS default, as gunicorn.conf.py).
    for address in ("198.51.100.1", "198.51.100.1", "198.51.100.2"):
        client, token = signed_in(asgi_server, None)
        client.post(
            "/generate/",
            data={"prompt": "A fox", "size": "1024x1024", "csrfmiddlewaretoken": token},
            headers={"HX-Request": "true", "X-Forwarded-For": address},
        )

    addresses = Generation.objects.order_by("client_address").values_list("client_address", flat=True)
    assert list(addresses) == ["198.51.100.1", "198.51.100.2"]
    assert httpx.get(f"{asgi_server}/healthz").status_code == 200
