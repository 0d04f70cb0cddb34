"""/v1 puts images on a board as they are made: `extra_body={"board": "<name or id>"}` with the OpenAI SDK."""

from __future__ import annotations

import openai
import pytest

from generations.models import Generation
from reviews.models import BoardItem
from tests.factories import make_board, make_user
from tests.test_api import post

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_image_made_through_the_api_lands_on_the_board_named_in_extra_body(api):
    board = make_board(api["user"], name="Campaign keepers")
    client = openai.OpenAI(base_url=api["base_url"], api_key=api["token"])

    client.images.generate(
        model="z-image-turbo", prompt="A lighthouse", extra_body={"board": "campaign KEEPERS"}
    )
    client.images.generate(model="z-image-turbo", prompt="A cat", extra_body={"board": board.public_id})

    assert [item.generation.prompt for item in board.items.order_by("position")] == ["A lighthouse", "A cat"]


def test_a_board_that_is_not_the_callers_is_refused_before_anything_is_made(api):
    theirs = make_board(make_user("bob"), name="Bob's board")

    for board in (theirs.public_id, "No such board", 42, ""):
        response = post(api, {"model": "z-image-turbo", "prompt": "A fox", "board": board})
        assert response.status_code == 400, board
        assert response.json()["error"]["param"] == "board"

    assert not Generation.objects.exists()
    assert not BoardItem.objects.exists()
    assert api["fake"].requests == [], "nothing was sent to the provider"


def test_a_full_board_refuses_the_request_whole(api, settings):
    settings.BOARD_MAX_IMAGES = 0
    make_board(api["user"], name="Full")

    response = post(api, {"model": "z-image-turbo", "prompt": "A fox", "board": "Full"})

    assert response.status_code == 400
    assert "at most 0 images" in response.json()["error"]["message"]
    assert not Generation.objects.exists()
