"""A board's share links: several per board, each with its scope, audience and switch; unguessable; gone at once
when switched off; unfurled with a preview; guests commenting through them under a name, within a limit."""

from __future__ import annotations

import functools
import io
import re

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from generations.models import GenerationStatus
from reviews.models import BoardShareLink, Comment, LinkAudience, LinkScope
from tests.factories import at_once, finish, make_board, make_generation, make_share_link, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(settings):
    settings.REQUIRE_LOGIN = True
    image = make_generation(status=GenerationStatus.SUCCEEDED, prompt="A lighthouse on the board")
    make_generation(status=GenerationStatus.SUCCEEDED, prompt="Not on the board")
    return make_board(make_user("alice"), generations=[image], name="Spring campaign")


def test_a_link_is_unguessable_and_names_no_database_id(board):
    link = make_share_link(board)

    assert len(link.token) == 43, "32 random bytes, URL-safe: 256 bits"
    assert str(link.pk) not in link.get_absolute_url().split("/")
    assert link.token not in {other.token for other in BoardShareLink.objects.exclude(pk=link.pk)}


def test_a_link_for_anyone_opens_signed_out_with_the_boards_images_only(client, board):
    response = client.get(make_share_link(board).get_absolute_url())

    assert response.status_code == 200
    assert "A lighthouse on the board" in response.text
    assert "Not on the board" not in response.text


def test_switching_a_link_off_makes_it_answer_404_at_once_while_the_others_work(client, board):
    first, second = make_share_link(board, label="First"), make_share_link(board, label="Second")
    owner = Client()
    owner.force_login(board.owner)

    owner.post(reverse("reviews:board-link", args=[board.public_id, first.public_id]))

    assert client.get(first.get_absolute_url()).status_code == 404
    assert client.get(reverse("reviews:shared-preview", args=[first.token])).status_code == 404
    assert client.get(second.get_absolute_url()).status_code == 200
    owner.post(reverse("reviews:board-link", args=[board.public_id, first.public_id]), {"active": "on"})
    assert client.get(first.get_absolute_url()).status_code == 200
    owner.post(reverse("reviews:board-link", args=[board.public_id, first.public_id]), {"delete": "1"})
    assert client.get(first.get_absolute_url()).status_code == 404


def test_a_token_that_is_not_a_links_shape_or_not_a_link_is_a_plain_404(client, board):
    make_share_link(board)

    assert client.get("/shared/short/").status_code == 404
    assert client.get(f"/shared/{'A' * 43}/").status_code == 404


def test_a_link_for_signed_in_users_only_sends_others_to_sign_in(client, board):
    link = make_share_link(board, audience=LinkAudience.SIGNED_IN)

    response = client.get(link.get_absolute_url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    client.force_login(make_user("bob"))
    assert client.get(link.get_absolute_url()).status_code == 200


def test_it_unfurls_with_the_boards_name_and_a_two_by_two_composite_of_its_first_images(
    client, demo_mode, settings
):
    images = [finish(make_generation(prompt=f"Image {index}", seed=index)) for index in range(5)]
    board = make_board(make_user("alice"), generations=images, name="Spring campaign")
    link = make_share_link(board)

    page = client.get(link.get_absolute_url())
    preview = re.search(r'<meta property="og:image" content="([^"]+)"', page.text)
    assert preview is not None
    preview_url = preview[1]

    assert '<meta property="og:title" content="Spring campaign">' in page.text
    assert '<meta name="twitter:card" content="summary_large_image">' in page.text
    assert preview_url == f"http://testserver{reverse('reviews:shared-preview', args=[link.token])}"
    composite = Image.open(io.BytesIO(client.get(preview_url).content))
    assert composite.size == (1200, 630)
    corners = [composite.getpixel(point) for point in ((10, 10), (1190, 10), (10, 620), (1190, 620))]
    assert len(set(corners)) > 1, "four pictures, not one colour"


def test_a_view_link_shows_no_comments_and_takes_none(client, board):
    link = make_share_link(board, scope=LinkScope.VIEW)
    image = board.items.get().generation
    Comment.objects.create(user=board.owner, generation=image, text="Internal note")

    page = client.get(link.get_absolute_url())
    panel = client.get(reverse("reviews:shared-image", args=[link.token, image.public_id]))
    post = client.post(
        reverse("reviews:shared-comment", args=[link.token, image.public_id]), {"name": "Ann", "text": "Hi"}
    )

    assert "Post comment" not in page.text
    assert "Post comment" not in panel.text
    assert post.status_code == 403
    assert Comment.objects.count() == 1


def test_a_guest_comments_through_a_comment_link_under_the_name_they_give(client, board):
    link = make_share_link(board, scope=LinkScope.COMMENT)
    image = board.items.get().generation

    refused = client.post(
        reverse("reviews:shared-comment", args=[link.token, image.public_id]), {"text": "Hi"}
    )
    client.post(
        reverse("reviews:shared-comment", args=[link.token, image.public_id]),
        {"name": "  Ann from the client  ", "text": "<script>alert(1)</script> Lovely"},
    )
    panel = client.get(reverse("reviews:shared-image", args=[link.token, image.public_id]))

    assert refused.status_code == 400
    assert "Write a name first." in refused.text
    comment = Comment.objects.select_related("guest").get()
    assert comment.guest is not None
    assert (comment.guest.name, comment.share_link, comment.address) == (
        "Ann from the client",
        link,
        "127.0.0.1",
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Lovely" in panel.text
    assert "<script>alert(1)" not in panel.text
    assert "Ann from the client" in client.get(image.get_absolute_url()).text, (
        "the team sees it on the image's page"
    )


def test_a_guests_comment_is_bounded_and_must_be_text(client, board):
    link = make_share_link(board, scope=LinkScope.COMMENT)
    url = reverse("reviews:shared-board-comment", args=[link.token])

    too_long = client.post(url, {"name": "Ann", "text": "x" * 2001})
    nul = client.post(url, {"name": "Ann\x00", "text": "Hi"})
    blank = client.post(url, {"name": "Ann", "text": "   "})

    assert too_long.status_code == 400
    assert "under 2,000 characters" in too_long.text
    assert nul.status_code == 400
    assert blank.status_code == 400
    assert not Comment.objects.exists()


def test_a_comment_link_that_was_switched_off_takes_no_more_comments(client, board):
    link = make_share_link(board, scope=LinkScope.COMMENT, is_active=False)

    response = client.post(
        reverse("reviews:shared-board-comment", args=[link.token]), {"name": "A", "text": "Hi"}
    )

    assert response.status_code == 404
    assert not Comment.objects.exists()


def test_an_image_that_is_not_on_the_board_is_not_shown_through_its_link(client, board):
    link = make_share_link(board, scope=LinkScope.COMMENT)
    elsewhere = make_generation(status=GenerationStatus.SUCCEEDED, seed=99)

    assert (
        client.get(reverse("reviews:shared-image", args=[link.token, elsewhere.public_id])).status_code == 404
    )
    post = client.post(
        reverse("reviews:shared-comment", args=[link.token, elsewhere.public_id]), {"name": "A", "text": "Hi"}
    )
    assert post.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_guests_comments_are_limited_per_address_even_when_they_arrive_at_once(asgi_server, settings):
    settings.REQUIRE_LOGIN = True
    settings.GUEST_COMMENTS_PER_HOUR = 3
    board = make_board(make_user("alice"), generations=[make_generation(status=GenerationStatus.SUCCEEDED)])
    link = make_share_link(board, scope=LinkScope.COMMENT)
    url = reverse("reviews:shared-board-comment", args=[link.token])
    guests = []
    for _ in range(8):
        guest = httpx.Client(base_url=asgi_server, timeout=30)
        token = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', guest.get(link.get_absolute_url()).text
        )
        assert token is not None
        guests.append((guest, token[1]))

    def post(guest: httpx.Client, token: str, index: int) -> httpx.Response:
        data = {"name": f"Guest {index}", "text": f"Comment {index}", "csrfmiddlewaretoken": token}
        return guest.post(url, data=data, headers={"HX-Request": "true"})

    answers = at_once(
        [functools.partial(post, guest, token, index) for index, (guest, token) in enumerate(guests)]
    )

    assert [answer.status_code for answer in answers] == [200] * 8, "a refusal is the form with its reason"
    assert Comment.objects.count() == 3
    assert sum("comments an hour from one network address" in answer.text for answer in answers) == 5
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert elsewhere.post(url, {"name": "Other office", "text": "Hi"}).status_code == 302
    assert Comment.objects.count() == 4
