"""Where the reviews meet generations' own pages (through generations/hooks.py): the gallery filtered by a board
and by ratings and sorted by them, "Add to board" on the generate forms, a grid's means, the cards' links."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generations.models import Generation, GenerationStatus
from reviews.models import Board
from reviews.people import Person
from reviews.services.ratings import rating_set
from tests.factories import form_data, make_board, make_generation, make_user
from tests.query_count import count_queries

pytestmark = pytest.mark.django_db

TILE = re.compile(r'<figure class="tile[^"]*" id="generation-([\w-]+)"')


def shown(client, **query) -> list[str]:
    """The prompts of the gallery's first page for this query, in order."""
    page = client.get(reverse("generations:gallery"), query).text
    by_id = dict(Generation.objects.values_list("public_id", "prompt"))
    return [by_id[public_id] for public_id in TILE.findall(page)]


@pytest.fixture
def rated(client):
    """Five images: 0 and 3 unrated; alice rated 1 (2★), 2 (5★), 4 (4★); bob rated 1 (4★)."""
    alice, bob = make_user("alice"), make_user("bob")
    images = [
        make_generation(status=GenerationStatus.SUCCEEDED, prompt=f"Image {index}", seed=index)
        for index in range(5)
    ]
    for person, index, stars in ((alice, 1, 2), (alice, 2, 5), (alice, 4, 4), (bob, 1, 4)):
        rating_set(generation=images[index], person=Person(user=person), value=stars)
    client.force_login(alice)
    return images


def test_the_gallery_sorts_by_the_team_mean_then_shows_the_unrated_newest_first(client, rated):
    assert shown(client, sort="mean") == ["Image 2", "Image 4", "Image 1", "Image 3", "Image 0"]


def test_the_gallery_sorts_by_my_rating(client, rated):
    assert shown(client, sort="mine") == ["Image 2", "Image 4", "Image 1", "Image 3", "Image 0"]


def test_the_gallery_filters_by_my_rating_and_the_team_mean(client, rated):
    assert shown(client, rated="unrated") == ["Image 3", "Image 0"]
    assert shown(client, rated="4") == ["Image 4", "Image 2"]
    assert shown(client, mean="3") == ["Image 4", "Image 2", "Image 1"]


def test_a_sorted_gallery_pages_through_the_rated_and_then_the_unrated_without_repeats(
    client, settings, rated
):
    more = [
        make_generation(status=GenerationStatus.SUCCEEDED, prompt=f"More {index}", seed=10 + index)
        for index in range(60)
    ]
    for index, image in enumerate(more[:50]):
        rating_set(generation=image, person=Person(user=make_user(f"rater{index}")), value=index % 5 + 1)
    url = f"{reverse('generations:gallery')}?sort=mean"
    seen: list[str] = []
    while url:
        page = client.get(url, HTTP_HX_REQUEST="true" if seen else None).text
        seen += TILE.findall(page)
        following = re.search(r'class="gallery-next" href="([^"]+)"', page)
        url = following[1].replace("&amp;", "&") if following else ""

    assert len(seen) == len(set(seen)) == 65
    means = [Generation.objects.get(public_id=public_id) for public_id in seen]
    summaries = [getattr(generation, "rating_summary", None) for generation in means]
    rated_means = [summary.mean_milli for summary in summaries if summary is not None]
    assert rated_means == sorted(rated_means, reverse=True)
    assert all(summary is None for summary in summaries[len(rated_means) :]), "the unrated come last"


def test_a_gallery_sorted_by_mean_is_one_query_whatever_the_depth(client, rated):
    client.get(reverse("generations:gallery"), {"sort": "mean"})
    with count_queries() as first:
        client.get(reverse("generations:gallery"), {"sort": "mean", "mean": "2"})
    for index in range(30):
        make_generation(status=GenerationStatus.SUCCEEDED, prompt=f"Extra {index}", seed=100 + index)
    with count_queries() as later:
        client.get(reverse("generations:gallery"), {"sort": "mean", "mean": "2"})

    assert first.total == later.total


def test_the_gallery_filters_by_board(client, rated):
    board = make_board(make_user("carol"), generations=[rated[3], rated[0]])

    assert shown(client, board=board.public_id) == ["Image 3", "Image 0"]
    assert 'id="id_board"' in client.get(reverse("generations:gallery")).text


def test_a_generation_asked_for_with_a_board_lands_on_it_as_it_is_made(client, demo_mode):
    alice = make_user("alice")
    board = make_board(alice, name="Keepers")
    client.force_login(alice)

    home = client.get(reverse("generations:home")).text
    client.post(reverse("generations:new"), form_data(board=board.public_id))

    assert '<label for="id_board">Add to board</label>' in home
    assert [item.generation.prompt for item in board.items.all()] == ["A red bicycle"]


def test_a_board_that_is_not_yours_is_refused_on_the_form_and_nothing_is_queued(client, demo_mode):
    client.force_login(make_user("alice"))
    theirs = make_board(make_user("bob"), name="Bob's")

    response = client.post(reverse("generations:new"), form_data(board=theirs.public_id))

    assert response.status_code == 400
    assert not Generation.objects.exists()


def test_a_batch_asked_for_with_a_board_puts_every_cell_on_it(client, demo_mode):
    alice = make_user("alice")
    board = make_board(alice, name="Grid keepers")
    client.force_login(alice)

    client.post(
        reverse("generations:batch-new"),
        {
            "prompts": "A fox\nAn owl",
            "seed_list": "1, 2",
            "sizes": ["1024x1024"],
            "extend": "off",
            "board": board.public_id,
        },
    )

    assert board.items.count() == 4


def test_a_grid_gives_the_team_mean_of_its_rated_cells(client, demo_mode):
    alice = make_user("alice")
    client.force_login(alice)
    client.post(
        reverse("generations:batch-new"),
        {"prompts": "A fox", "seed_list": "1, 2", "sizes": ["1024x1024"], "extend": "off"},
    )
    first, _second = Generation.objects.order_by("cell_index")
    Generation.objects.update(status=GenerationStatus.SUCCEEDED)
    rating_set(generation=first, person=Person(user=alice), value=4)
    rating_set(generation=first, person=Person(user=make_user("bob")), value=5)

    batch = first.batch
    assert batch is not None
    means = client.get(reverse("reviews:batch-ratings", args=[batch.public_id])).json()
    grid = client.get(batch.get_absolute_url()).text

    assert means == {"cells": {first.public_id: {"mean": "4.5", "band": "4", "count": 2}}}
    assert grid.count('form="grid-picks"') == 2
    assert "Add all to board…" in grid


def test_every_card_and_the_lightbox_offer_add_to_board(client, rated):
    home = client.get(reverse("generations:home")).text
    gallery = client.get(reverse("generations:gallery")).text

    assert home.count(">Add to board</span></a>") == 5, "in each card's menu"
    assert "data-lightbox-reviews" in gallery
    assert "Add to board…" in gallery
    assert not Board.objects.exists()


def test_the_gallerys_csv_and_smart_boards_take_the_ratings_filters_too(client, rated):
    csv_text = client.get(reverse("reviews:gallery-csv"), {"mean": "4"}).content.decode()
    client.post(reverse("reviews:boards"), {"name": "My favourites", "smart_query": "rated=5"})
    board_page = client.get(Board.objects.get().get_absolute_url()).text

    assert [line.split(",")[2] for line in csv_text.splitlines()[1:]] == ["Image 4", "Image 2"]
    assert "Image 2" in board_page
    assert "Image 4" not in board_page
    assert "My rating: I gave 5★ and up" in board_page
