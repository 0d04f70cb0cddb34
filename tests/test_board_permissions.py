"""Who may do what with boards, ratings and comments, on an instance that asks people to sign in.

Each rule is tried by the board's owner (A), a member, someone else signed in (B), an anonymous visitor, a guest
who commented through a share link (and so has a session the playground knows), and staff. A refusal leaves
nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from generations.models import Generation, GenerationStatus
from reviews.domain import ReviewStatus
from reviews.models import Board, BoardItem, BoardShareLink, Comment, LinkScope, Rating, RatingSummary
from tests.factories import make_board, make_generation, make_share_link, make_user

pytestmark = pytest.mark.django_db

WHO = ("owner", "member", "other", "anonymous", "guest", "staff")


@dataclass
class Scene:
    board: Board
    image: Generation
    other_image: Generation
    comment_link: BoardShareLink
    view_link: BoardShareLink
    clients: dict[str, Client]


@pytest.fixture
def scene(settings) -> Scene:
    settings.REQUIRE_LOGIN = True
    alice, carol = make_user("alice"), make_user("carol")
    make_user("staff", role=Role.STAFF)
    make_user("bob")
    image = make_generation(status=GenerationStatus.SUCCEEDED, prompt="On the board")
    other_image = make_generation(status=GenerationStatus.SUCCEEDED, prompt="Not on it", seed=2)
    board = make_board(alice, generations=[image], members=[carol])
    comment_link = make_share_link(board, label="Client", scope=LinkScope.COMMENT)
    view_link = make_share_link(board, label="Viewers")
    clients = {name: Client() for name in WHO}
    for name in ("owner", "member", "other", "staff"):
        username = {"owner": "alice", "member": "carol", "other": "bob", "staff": "staff"}[name]
        clients[name].force_login(get_user_model().objects.get(username=username))
    guest_comment = clients["guest"].post(
        reverse("reviews:shared-board-comment", args=[comment_link.token]), {"name": "Gina", "text": "Hello"}
    )
    assert guest_comment.status_code == 302
    return Scene(board, image, other_image, comment_link, view_link, clients)


def signs_in_first(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


@dataclass(frozen=True)
class Rule:
    """A request, who may make it, and how to tell that it took effect."""

    send: Callable[[Client, Scene], Any]  # the test client's response
    done: Callable[[Scene], bool]
    allowed: tuple[str, ...]


def board_url(name: str, scene: Scene, *args: str) -> str:
    return reverse(f"reviews:{name}", args=[scene.board.public_id, *args])


EDITORS = ("owner", "member", "staff")
MANAGERS = ("owner", "staff")
SIGNED_IN = ("owner", "member", "other", "staff")

RULES = {
    "rename the board": Rule(
        lambda client, scene: client.post(board_url("board-settings", scene), {"name": "Renamed"}),
        lambda scene: Board.objects.filter(name="Renamed").exists(),
        MANAGERS,
    ),
    "delete the board": Rule(
        lambda client, scene: client.post(board_url("board-delete", scene)),
        lambda scene: not Board.objects.exists() and Generation.objects.filter(pk=scene.image.pk).exists(),
        MANAGERS,
    ),
    "make a share link": Rule(
        lambda client, scene: client.post(
            board_url("board-link-create", scene), {"label": "New", "scope": "view", "audience": "anyone"}
        ),
        lambda scene: BoardShareLink.objects.filter(label="New").exists(),
        MANAGERS,
    ),
    "switch a share link off": Rule(
        lambda client, scene: client.post(board_url("board-link", scene, scene.view_link.public_id)),
        lambda scene: not BoardShareLink.objects.get(pk=scene.view_link.pk).is_active,
        MANAGERS,
    ),
    "add a member": Rule(
        lambda client, scene: client.post(board_url("board-members", scene), {"username": "bob"}),
        lambda scene: scene.board.members.filter(username="bob").exists(),
        MANAGERS,
    ),
    "add an image": Rule(
        lambda client, scene: client.post(
            reverse("reviews:add"), {"id": scene.other_image.public_id, "board": scene.board.public_id}
        ),
        lambda scene: BoardItem.objects.filter(generation=scene.other_image).exists(),
        EDITORS,
    ),
    "take an image off": Rule(
        lambda client, scene: client.post(board_url("board-remove", scene), {"id": scene.image.public_id}),
        lambda scene: (
            not BoardItem.objects.exists() and Generation.objects.filter(pk=scene.image.pk).exists()
        ),
        EDITORS,
    ),
    "approve an image": Rule(
        lambda client, scene: client.post(
            board_url("board-status", scene, scene.image.public_id), {"status": "approved"}
        ),
        lambda scene: BoardItem.objects.get().review_status == ReviewStatus.APPROVED,
        EDITORS,
    ),
    "approve in review mode": Rule(
        lambda client, scene: client.post(
            board_url("review", scene), {"at": scene.image.public_id, "status": "approved"}
        ),
        lambda scene: BoardItem.objects.get().review_status == ReviewStatus.APPROVED,
        EDITORS,
    ),
    "see the board's page": Rule(
        lambda client, scene: client.get(scene.board.get_absolute_url()),
        lambda scene: True,
        SIGNED_IN,
    ),
    "rate an image": Rule(
        lambda client, scene: client.post(
            reverse("reviews:image-rate", args=[scene.image.public_id]), {"value": 4}
        ),
        lambda scene: Rating.objects.exists(),
        SIGNED_IN,
    ),
    "comment on an image": Rule(
        lambda client, scene: client.post(
            reverse("reviews:image-comment", args=[scene.image.public_id]), {"text": "Team note"}
        ),
        lambda scene: Comment.objects.filter(text="Team note").exists(),
        SIGNED_IN,
    ),
    "comment on the board": Rule(
        lambda client, scene: client.post(board_url("board-comments", scene), {"text": "Team note"}),
        lambda scene: Comment.objects.filter(text="Team note").exists(),
        SIGNED_IN,
    ),
    "comment through a comment link": Rule(
        lambda client, scene: client.post(
            reverse("reviews:shared-comment", args=[scene.comment_link.token, scene.image.public_id]),
            {"name": "Someone", "text": "Link note"},
        ),
        lambda scene: Comment.objects.filter(text="Link note").exists(),
        WHO,
    ),
    "comment through a view link": Rule(
        lambda client, scene: client.post(
            reverse("reviews:shared-comment", args=[scene.view_link.token, scene.image.public_id]),
            {"name": "Someone", "text": "Link note"},
        ),
        lambda scene: Comment.objects.filter(text="Link note").exists(),
        (),
    ),
}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("rule", RULES, ids=list(RULES))
def test_it_lets_exactly_the_right_people_do_it(scene: Scene, rule: str, who: str):
    response = RULES[rule].send(scene.clients[who], scene)

    if who in RULES[rule].allowed:
        assert response.status_code < 400, response.content[:500]
        assert RULES[rule].done(scene)
    else:
        assert response.status_code in (302, 400, 403), response.status_code
        if response.status_code == 302:
            assert signs_in_first(response), "a refusal never looks like success"
        if rule != "see the board's page":
            assert not RULES[rule].done(scene)


@pytest.mark.parametrize("who", ["anonymous", "guest"])
def test_a_visitor_who_is_not_signed_in_is_asked_to_sign_in_rather_than_refused(scene: Scene, who: str):
    assert signs_in_first(scene.clients[who].get(scene.board.get_absolute_url()))
    assert signs_in_first(scene.clients[who].get(reverse("reviews:boards")))


def test_b_cannot_add_to_a_board_that_is_not_theirs_and_is_told_why(scene: Scene):
    response = scene.clients["other"].post(
        reverse("reviews:add"), {"id": scene.other_image.public_id, "board": scene.board.public_id}
    )

    assert response.status_code == 400
    assert "Pick one of your boards" in response.text
    assert "Keepers" not in response.text.split("Your boards")[-1], "B is not offered A's board"


def test_a_comment_may_be_edited_only_by_its_author_and_deleted_by_its_author_or_staff(scene: Scene):
    scene.clients["owner"].post(
        reverse("reviews:image-comment", args=[scene.image.public_id]), {"text": "Mine"}
    )
    comment = Comment.objects.get(text="Mine")
    edit = reverse("reviews:comment-edit", args=[comment.public_id])
    delete = reverse("reviews:comment-delete", args=[comment.public_id])

    for who in ("other", "member", "anonymous", "guest", "staff"):
        assert scene.clients[who].post(edit, {"text": "Changed"}).status_code == 403, who
    for who in ("other", "member", "anonymous", "guest"):
        assert scene.clients[who].post(delete).status_code == 403, who
    assert Comment.objects.get(pk=comment.pk).text == "Mine"

    assert scene.clients["owner"].post(edit, {"text": "Mine, edited"}).status_code == 302
    assert Comment.objects.get(pk=comment.pk).text == "Mine, edited"
    assert scene.clients["staff"].post(delete).status_code == 302
    assert Comment.objects.get(pk=comment.pk).is_deleted


def test_a_guest_may_edit_and_delete_what_they_wrote_through_a_link(scene: Scene):
    comment = Comment.objects.get(text="Hello")
    guest = scene.clients["guest"]

    assert (
        guest.post(
            reverse("reviews:comment-edit", args=[comment.public_id]), {"text": "Hello again"}
        ).status_code
        == 302
    )
    assert guest.post(reverse("reviews:comment-delete", args=[comment.public_id]))["Location"] == (
        scene.comment_link.get_absolute_url()
    )
    assert Comment.objects.get(pk=comment.pk).is_deleted
    assert (
        scene.clients["anonymous"]
        .post(reverse("reviews:comment-delete", args=[comment.public_id]))
        .status_code
        == 403
    )


def test_everyone_s_ratings_are_kept_apart_and_summed_up(scene: Scene):
    rate = reverse("reviews:image-rate", args=[scene.image.public_id])
    for who, stars in (("owner", 5), ("other", 2), ("staff", 4)):
        scene.clients[who].post(rate, {"value": stars})
    scene.clients["other"].post(rate, {"value": 3})

    assert sorted(Rating.objects.values_list("user__username", "value")) == [
        ("alice", 5),
        ("bob", 3),
        ("staff", 4),
    ]
    summary = scene.image.rating_summary
    summary.refresh_from_db()
    assert (summary.count, summary.total, summary.mean_milli) == (3, 12, 4000)
    panel = scene.clients["other"].get(reverse("reviews:image-panel", args=[scene.image.public_id]))
    assert 'aria-pressed="true"' in panel.text.split("3 stars")[0].rsplit("<button", 1)[1]
    assert "Team mean <strong>4.0★</strong>" in panel.text


def test_zero_clears_a_rating_and_a_rating_out_of_range_is_refused(scene: Scene):
    rate = reverse("reviews:image-rate", args=[scene.image.public_id])
    scene.clients["owner"].post(rate, {"value": 5})

    assert scene.clients["owner"].post(rate, {"value": 6}).status_code == 400
    assert scene.clients["owner"].post(rate, {"value": "x"}).status_code == 400
    scene.clients["owner"].post(rate, {"value": 0})

    assert not Rating.objects.exists()
    assert not RatingSummary.objects.exists(), "an image nobody rates has no mean"
