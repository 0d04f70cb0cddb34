"""Ratings: each person's stars, kept apart; every image's count and mean exact even when people rate at once."""

from __future__ import annotations

import functools

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from generations.models import GenerationStatus
from reviews.models import Guest, Rating, RatingSummary
from reviews.people import Person
from reviews.services.ratings import rating_set
from tests.factories import at_once, make_generation, make_user
from tests.test_job_engine import signed_in

pytestmark = pytest.mark.django_db


def test_a_rating_sets_the_images_summary_and_changing_it_moves_the_mean():
    image = make_generation(status=GenerationStatus.SUCCEEDED)
    alice, bob = make_user("alice"), make_user("bob")

    rating_set(generation=image, person=Person(user=alice), value=5)
    rating_set(generation=image, person=Person(user=bob), value=2)
    summary = rating_set(generation=image, person=Person(user=bob), value=4)

    assert summary is not None
    assert (summary.count, summary.total, summary.mean) == (2, 9, 4.5)
    assert summary.mean_milli == 4500


def test_it_refuses_a_rating_outside_the_scale():
    image = make_generation(status=GenerationStatus.SUCCEEDED)

    with pytest.raises(ValueError, match="1 to 5 stars"):
        rating_set(generation=image, person=Person(user=make_user()), value=6)


def test_on_an_open_instance_each_browser_session_rates_as_its_own_person(client):
    image = make_generation(status=GenerationStatus.SUCCEEDED)
    other = Client()

    client.post(reverse("reviews:image-rate", args=[image.public_id]), {"value": 5})
    other.post(reverse("reviews:image-rate", args=[image.public_id]), {"value": 1})
    client.post(reverse("reviews:image-rate", args=[image.public_id]), {"value": 4})

    assert Guest.objects.count() == 2
    assert sorted(Rating.objects.values_list("value", flat=True)) == [1, 4]
    assert RatingSummary.objects.get().total == 5


@pytest.mark.django_db(transaction=True)
def test_the_count_and_mean_stay_exact_when_many_people_rate_one_image_at_once(
    asgi_server, django_user_model
):
    image = make_generation(status=GenerationStatus.SUCCEEDED)
    people = [signed_in(asgi_server, make_user(f"rater{index}")) for index in range(12)]
    url = reverse("reviews:image-rate", args=[image.public_id])

    def rate(client: httpx.Client, token: str, stars: int) -> int:
        data = {"value": stars, "csrfmiddlewaretoken": token}
        return client.post(url, data=data, headers={"HX-Request": "true"}).status_code

    statuses = at_once(
        [
            functools.partial(rate, client, token, index % 5 + 1)
            for index, (client, token) in enumerate(people)
        ]
    )

    assert statuses == [200] * 12
    summary = RatingSummary.objects.get(generation=image)
    assert (summary.count, summary.total) == (12, sum(index % 5 + 1 for index in range(12)))
