"""Boards: their images in an order of their own (added from anywhere, removed, moved), smart boards, review
statuses and review mode, a board's size limit under simultaneous additions, and boards on an open instance."""

from __future__ import annotations

import functools

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generations.models import Generation, GenerationStatus
from reviews.domain import ReviewStatus
from reviews.models import Board, BoardItem, ReviewPlace
from reviews.people import Person
from reviews.selectors import BoardItemFilters, board_items, review_step
from reviews.services.boards import BoardRefused, board_item_move, board_items_add, board_review_set
from reviews.services.ratings import rating_set
from tests.factories import at_once, make_board, make_generation, make_user
from tests.test_job_engine import signed_in

pytestmark = pytest.mark.django_db


def images(count: int) -> list[Generation]:
    return [
        make_generation(status=GenerationStatus.SUCCEEDED, prompt=f"Image {index}", seed=index)
        for index in range(count)
    ]


def order(board: Board) -> list[str]:
    return [item.generation.prompt for item in board_items(board=board, person=Person())]


def test_images_keep_the_order_they_were_added_in_and_an_image_is_on_a_board_once():
    first, second, third = images(3)
    board = make_board(make_user(), generations=[second, first])

    added = board_items_add(board=board, generations=[first, third], person=Person())

    assert added == 1
    assert order(board) == ["Image 1", "Image 0", "Image 2"]


def test_an_image_moves_to_any_place_and_the_others_close_up():
    board = make_board(make_user(), generations=images(4))

    board_item_move(board=board, generation=Generation.objects.get(prompt="Image 3"), to_index=0)
    board_item_move(board=board, generation=Generation.objects.get(prompt="Image 0"), to_index=99)

    assert order(board) == ["Image 3", "Image 1", "Image 2", "Image 0"]
    assert list(board.items.order_by("position").values_list("position", flat=True)) == [1, 2, 3, 4]


def test_the_keyboards_move_earlier_and_later_work_without_javascript(client):
    alice = make_user("alice")
    board = make_board(alice, generations=images(3))
    client.force_login(alice)
    page = client.get(board.get_absolute_url()).text

    assert 'name="to" value="0"' in page
    assert '<span class="tool-label">Move later</span>' in page, "in the tile's menu (a popover: no script)"
    response = client.post(
        reverse("reviews:board-move", args=[board.public_id]),
        {"id": Generation.objects.get(prompt="Image 2").public_id, "to": 1},
    )
    assert response.status_code == 302
    assert order(board) == ["Image 0", "Image 2", "Image 1"]


def test_a_deleted_image_leaves_the_board_and_taking_one_off_or_deleting_the_board_keeps_it_in_the_gallery(
    client,
):
    alice = make_user("alice")
    kept, deleted, removed = images(3)
    board = make_board(alice, generations=[kept, deleted, removed])
    Generation.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    client.force_login(alice)

    client.post(reverse("reviews:board-remove", args=[board.public_id]), {"id": removed.public_id})
    assert order(board) == ["Image 0"]
    assert "Image 1" not in client.get(board.get_absolute_url()).text
    client.post(reverse("reviews:board-delete", args=[board.public_id]))

    assert not Board.objects.exists()
    assert not BoardItem.objects.exists()
    assert Generation.objects.live().count() == 2


def test_it_adds_a_gallery_selection_to_a_new_board_named_on_the_way(client):
    client.force_login(make_user("alice"))
    picked = images(3)

    response = client.post(
        reverse("reviews:add"),
        {"id": [generation.public_id for generation in picked], "new_board": "Keepers"},
    )

    board = Board.objects.get(name="Keepers")
    assert response["Location"] == board.get_absolute_url()
    assert order(board) == ["Image 0", "Image 1", "Image 2"]


def test_the_add_dialog_offers_only_the_persons_boards_and_htmx_gets_the_outcome_in_place(client):
    alice = make_user("alice")
    mine, theirs = make_board(alice, name="Mine"), make_board(make_user("bob"), name="Theirs")
    picked = images(1)[0]
    client.force_login(alice)

    dialog = client.get(reverse("reviews:add"), {"id": picked.public_id}, HTTP_HX_REQUEST="true")
    added = client.post(
        reverse("reviews:add"), {"id": picked.public_id, "board": mine.public_id}, HTTP_HX_REQUEST="true"
    )

    assert "Mine" in dialog.text
    assert "Theirs" not in dialog.text
    assert "1 image added to “Mine”." in added.text
    assert not theirs.items.exists()


@pytest.mark.django_db(transaction=True)
def test_a_boards_size_limit_holds_when_images_are_added_at_once(asgi_server, settings):
    settings.BOARD_MAX_IMAGES = 5
    alice = make_user("alice")
    board = make_board(alice)
    pictures = images(12)
    client, token = signed_in(asgi_server, alice)

    def add(generation: Generation) -> int:
        data = {"id": generation.public_id, "board": board.public_id, "csrfmiddlewaretoken": token}
        return client.post(reverse("reviews:add"), data=data).status_code

    answers = at_once([functools.partial(add, generation) for generation in pictures])

    assert board.items.count() == 5
    assert sorted(answers) == [302] * 5 + [400] * 7


def test_a_smart_board_fills_itself_from_the_gallerys_filters(client):
    alice = make_user("alice")
    client.force_login(alice)
    make_generation(status=GenerationStatus.SUCCEEDED, prompt="A lighthouse at dusk")
    make_generation(status=GenerationStatus.SUCCEEDED, prompt="A cat", is_favourite=True, seed=2)

    client.post(
        reverse("reviews:boards"), {"name": "Lighthouses", "smart_query": "q=lighthouse&junk=1&ratio=9:9"}
    )
    board = Board.objects.get()
    make_generation(status=GenerationStatus.SUCCEEDED, prompt="Another lighthouse", seed=3)
    page = client.get(board.get_absolute_url()).text

    assert board.smart_query == "q=lighthouse", "only the filters' own fields are kept"
    assert "A lighthouse at dusk" in page
    assert "Another lighthouse" in page
    assert "A cat" not in page
    assert "Search: lighthouse" in page
    with pytest.raises(BoardRefused):
        board_items_add(board=board, generations=images(1), person=Person(user=alice))


def test_a_board_filters_and_sorts_by_my_rating_and_the_team_mean():
    alice, bob = make_user("alice"), make_user("bob")
    first, second, third = images(3)
    board = make_board(alice, generations=[first, second, third])
    for person, image, stars in ((alice, first, 2), (bob, first, 2), (alice, second, 5), (bob, third, 4)):
        rating_set(generation=image, person=Person(user=person), value=stars)

    def shown(**filters) -> list[str]:
        return [
            item.generation.prompt
            for item in board_items(
                board=board, person=Person(user=alice), filters=BoardItemFilters(**filters)
            )
        ]

    assert shown(sort="mean") == ["Image 1", "Image 2", "Image 0"]
    assert shown(sort="mine") == ["Image 1", "Image 0", "Image 2"]
    assert shown(min_mean=4) == ["Image 1", "Image 2"]
    assert shown(mine="unrated") == ["Image 2"]
    assert shown(mine="3") == ["Image 1"]


def test_a_review_status_says_who_set_it_and_when_and_the_board_counts_them(client):
    alice = make_user("alice")
    pictures = images(4)
    board = make_board(alice, generations=pictures)
    for image, status in zip(
        pictures, (ReviewStatus.APPROVED, ReviewStatus.APPROVED, ReviewStatus.REJECTED), strict=False
    ):
        board_review_set(board=board, generation=image, status=status, person=Person(user=alice))
    client.force_login(alice)

    page = client.get(board.get_absolute_url()).text

    item = board.items.get(generation=pictures[0])
    assert item.reviewed_by == alice
    assert item.reviewed_at is not None
    assert "3 of 4 reviewed, 2 approved" in page
    assert "Approved by alice" in page
    board_review_set(
        board=board, generation=pictures[0], status=ReviewStatus.NEEDS_REVIEW, person=Person(user=alice)
    )
    reset = board.items.get(generation=pictures[0])
    assert (reset.reviewed_by, reset.reviewed_at) == (None, None)


def test_review_mode_walks_the_images_still_to_review_and_ends_with_the_tally(client):
    alice = make_user("alice")
    pictures = images(3)
    board = make_board(alice, generations=pictures)
    board_review_set(
        board=board, generation=pictures[0], status=ReviewStatus.REJECTED, person=Person(user=alice)
    )
    client.force_login(alice)
    url = reverse("reviews:review", args=[board.public_id])

    assert "Image 1" in client.get(url).text, "it opens on the first image still to review"
    shown = client.post(url, {"at": pictures[1].public_id, "status": "approved"})["Location"]
    assert shown == f"{url}?at={pictures[2].public_id}"
    last = client.post(url, {"at": pictures[2].public_id, "status": "approved"})
    page = client.get(last["Location"]).text

    assert "Review finished:" in page
    assert "3 of 3 reviewed, 2 approved" in page


def test_review_mode_remembers_where_each_person_was():
    alice, bob = make_user("alice"), make_user("bob")
    pictures = images(3)
    board = make_board(alice, generations=pictures)
    for person, image in ((alice, pictures[2]), (bob, pictures[1])):
        client = Client()
        client.force_login(person)
        client.get(reverse("reviews:review", args=[board.public_id]), {"at": image.public_id})

    shown = [review_step(board=board, person=Person(user=person)).item for person in (alice, bob)]
    assert [item.generation if item else None for item in shown] == [pictures[2], pictures[1]]
    assert ReviewPlace.objects.count() == 2


def test_on_an_open_instance_the_browser_session_that_made_a_board_manages_it_and_no_other_does(client):
    mine = client.post(reverse("reviews:boards"), {"name": "Session board"})
    board = Board.objects.get()
    other = Client()

    assert mine.status_code == 302
    assert board.owner is None
    assert board.owner_guest is not None
    assert client.get(reverse("reviews:board-settings", args=[board.public_id])).status_code == 200
    assert other.get(reverse("reviews:board-settings", args=[board.public_id])).status_code == 403
    assert other.get(board.get_absolute_url()).status_code == 200, "but anyone may look, rate and comment"
