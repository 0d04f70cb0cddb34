"""Exports: a board's ZIP of originals (each PNG with its parameters) and CSV (parameters, cost, everyone's
ratings, the mean, review status, comment count), and the same CSV for a gallery filter."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from PIL.PngImagePlugin import PngImageFile

from generations.models import Generation, GenerationStatus
from reviews.domain import ReviewStatus
from reviews.models import Guest
from reviews.people import Person
from reviews.services.board_files import COST_HEADER
from reviews.services.boards import board_review_set
from reviews.services.comments import comment_delete, comment_post
from reviews.services.ratings import rating_set
from tests.factories import finish, make_board, make_generation, make_user

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_a_boards_csv_has_a_row_per_image_in_its_order_with_everyones_ratings(client):
    alice, bob = make_user("alice"), make_user("bob")
    guest = Guest.objects.create(session_key="s" * 32, name="Ann")
    first = make_generation(
        status=GenerationStatus.SUCCEEDED,
        prompt='=HYPERLINK("x")',
        seed=7,
        prompt_extend=True,
        revised_prompt="A revised lighthouse",
        width=1024,
        height=1024,
    )
    second = make_generation(status=GenerationStatus.SUCCEEDED, prompt="A cat", seed=8)
    deleted = make_generation(status=GenerationStatus.SUCCEEDED, prompt="Deleted", seed=9)
    board = make_board(alice, generations=[second, first, deleted])
    Generation.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    rating_set(generation=first, person=Person(user=alice), value=5)
    rating_set(generation=first, person=Person(user=bob), value=2)
    rating_set(generation=second, person=Person(guest=guest), value=3)
    board_review_set(board=board, generation=first, status=ReviewStatus.APPROVED, person=Person(user=alice))
    comment_post(person=Person(user=bob), text="One", generation=first)
    comment_delete(comment=comment_post(person=Person(user=bob), text="Gone", generation=first))
    client.force_login(alice)

    response = client.get(reverse("reviews:board-csv", args=[board.public_id]))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="zimage-board-{board.public_id}.csv"'
    header = response.content.decode().splitlines()[0].split(",")
    assert header == [
        "image", "link", "prompt", "revised prompt", "seed", "size", "extend", COST_HEADER,
        "rating: alice", f"rating: Ann (guest {guest.public_id[:4]})", "rating: bob",
        "mean rating", "ratings", "review status", "comments",
    ]  # fmt: skip
    cat, lighthouse = rows_of(response)
    assert lighthouse == {
        "image": first.public_id,
        "link": f"http://testserver/g/{first.public_id}/",
        "prompt": '\'=HYPERLINK("x")',
        "revised prompt": "A revised lighthouse",
        "seed": "7",
        "size": "1024x1024",
        "extend": "on",
        COST_HEADER: "",
        "rating: alice": "5",
        f"rating: Ann (guest {guest.public_id[:4]})": "",
        "rating: bob": "2",
        "mean rating": "3.50",
        "ratings": "2",
        "review status": "Approved",
        "comments": "1",
    }
    assert (cat["prompt"], cat["mean rating"], cat["ratings"], cat["review status"]) == (
        "A cat",
        "3.00",
        "1",
        "Needs review",
    )


def test_the_gallery_exports_the_same_csv_for_its_filters(client):
    make_generation(status=GenerationStatus.SUCCEEDED, prompt="A lighthouse at dusk")
    make_generation(status=GenerationStatus.SUCCEEDED, prompt="A cat", seed=2)
    make_generation(status=GenerationStatus.FAILED, prompt="A failed lighthouse", seed=3)

    rows = rows_of(client.get(reverse("reviews:gallery-csv"), {"q": "lighthouse"}))

    assert [row["prompt"] for row in rows] == ["A lighthouse at dusk"]
    assert rows[0]["review status"] == ""
    assert rows[0]["comments"] == "0"


def test_exports_of_a_board_ask_for_sign_in_like_the_board(client, settings):
    settings.REQUIRE_LOGIN = True
    board = make_board(make_user("alice"))

    for name in ("board-csv", "board-zip", "board-preview"):
        response = client.get(reverse(f"reviews:{name}", args=[board.public_id]))
        assert response["Location"].startswith(reverse("login")), name


@pytest.mark.django_db(transaction=True)
def test_a_boards_zip_holds_its_originals_in_its_order_each_with_its_parameters(asgi_server, demo_mode):
    first, second = (finish(make_generation(prompt=f"Picture {index}", seed=index)) for index in range(2))
    unfinished = make_generation(prompt="Still queued", seed=5)
    board = make_board(make_user("alice"), generations=[second, first, unfinished])

    response = httpx.get(asgi_server + reverse("reviews:board-zip", args=[board.public_id]), timeout=30)

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [f"001-{second.public_id}.png", f"002-{first.public_id}.png"]
    image = Image.open(io.BytesIO(archive.read(archive.namelist()[0])))
    image.load()
    assert isinstance(image, PngImageFile)
    assert json.loads(image.text["parameters"])["prompt"] == "Picture 1"
