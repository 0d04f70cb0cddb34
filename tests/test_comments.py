"""Comments: threads on images and boards, @mentions in the inbox with a count in the header, edits and
deletions, and every change pushed live over the playground's one event stream."""

from __future__ import annotations

import json

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from generations.models import GenerationStatus
from reviews.domain import mentioned_names
from reviews.models import Comment, Mention
from reviews.people import Person
from reviews.services.comments import comment_delete, comment_edit, comment_post
from tests.factories import make_board, make_generation, make_user

pytestmark = pytest.mark.django_db


def test_it_reads_mentions_as_people_write_them():
    assert mentioned_names("Thanks @bob and @carol.smith. @bob again, not me@mail.com or @.") == [
        "bob",
        "carol.smith",
    ]


def test_a_mention_of_a_teammate_lands_in_their_inbox_with_a_count_in_the_header(client):
    alice, bob = make_user("alice"), make_user("bob")
    image = make_generation(status=GenerationStatus.SUCCEEDED)

    comment_post(person=Person(user=alice), text="@bob @nobody @alice look", generation=image)
    client.force_login(bob)
    page = client.get(reverse("generations:gallery"))

    assert list(Mention.objects.values_list("user__username", flat=True)) == ["bob"], (
        "not the author, not strangers"
    )
    assert '<span class="inbox-count">1<span class="visually-hidden"> unread</span></span>' in page.text
    inbox = client.get(reverse("reviews:inbox"))
    assert "look" in inbox.text
    assert 'class="new-pill"' in inbox.text
    client.post(reverse("reviews:inbox-seen"))
    assert 'class="inbox-count"' not in client.get(reverse("generations:gallery")).text


def test_editing_a_mention_away_takes_it_out_of_the_inbox_and_deleting_takes_its_mentions():
    alice, _bob, _carol = make_user("alice"), make_user("bob"), make_user("carol")
    image = make_generation(status=GenerationStatus.SUCCEEDED)
    comment = comment_post(person=Person(user=alice), text="@bob see", generation=image)

    comment_edit(comment=comment, text="@carol see")
    assert list(Mention.objects.values_list("user__username", flat=True)) == ["carol"]
    comment_delete(comment=comment)
    assert not Mention.objects.exists()
    assert (Comment.objects.get().text, Comment.objects.get().is_deleted) == ("", True)


def test_replies_join_their_thread_and_a_deleted_comment_keeps_its_place_while_it_has_replies(client):
    alice, bob = make_user("alice"), make_user("bob")
    image = make_generation(status=GenerationStatus.SUCCEEDED)
    first = comment_post(person=Person(user=alice), text="First thoughts", generation=image)
    reply = comment_post(person=Person(user=bob), text="A reply", generation=image, reply_to=first)
    second_reply = comment_post(
        person=Person(user=alice), text="A reply to the reply", generation=image, reply_to=reply
    )
    lonely = comment_post(person=Person(user=bob), text="Nobody answered", generation=image)

    comment_delete(comment=first)
    comment_delete(comment=lonely)
    page = client.get(image.get_absolute_url()).text

    assert second_reply.parent == first, "a thread is one level deep"
    assert "Comment deleted." in page
    assert "A reply to the reply" in page
    assert "Nobody answered" not in page
    assert page.count("Comment deleted.") == 1


def test_a_reply_to_a_comment_of_another_image_is_refused(client):
    client.force_login(make_user("alice"))
    image, other = (make_generation(status=GenerationStatus.SUCCEEDED, seed=seed) for seed in (1, 2))
    elsewhere = comment_post(person=Person(user=make_user("bob")), text="Elsewhere", generation=other)

    response = client.post(
        reverse("reviews:image-comment", args=[image.public_id]),
        {"text": "Hi", "reply_to": elsewhere.public_id},
    )

    assert response.status_code == 400
    assert Comment.objects.count() == 1


def test_with_htmx_a_posted_comment_gives_a_blank_form_and_tells_the_threads_to_reload(client):
    image = make_generation(status=GenerationStatus.SUCCEEDED)

    posted = client.post(
        reverse("reviews:image-comment", args=[image.public_id]),
        {"text": "Looks good"},
        HTTP_HX_REQUEST="true",
    )
    refused = client.post(
        reverse("reviews:image-comment", args=[image.public_id]), {"text": ""}, HTTP_HX_REQUEST="true"
    )

    assert "comments-changed" in json.loads(posted["HX-Trigger"])
    assert "Looks good" not in posted.text, "the form is blank again"
    assert "HX-Trigger" not in refused
    assert "Write a comment first." in refused.text


@pytest.mark.django_db(transaction=True)
def test_a_comment_and_a_rating_are_pushed_live_to_the_pages_that_follow_the_image_and_its_board(asgi_server):
    image = make_generation(status=GenerationStatus.SUCCEEDED)
    board = make_board(make_user("alice"), generations=[image])
    commenter = Client()
    url = f"{asgi_server}/events/?id={image.public_id}&id={board.public_id}"

    events = []
    with httpx.stream("GET", url, timeout=10) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        commenter.post(reverse("reviews:image-comment", args=[image.public_id]), {"text": "Live"})
        commenter.post(reverse("reviews:image-rate", args=[image.public_id]), {"value": 3})
        kind = ""
        for line in lines:
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:") and kind in ("comments", "ratings"):
                events.append(json.loads(line.removeprefix("data:")) | {"kind": kind})
            if len(events) == 4:
                break

    assert sorted((event["id"], event["kind"], event["about"]) for event in events) == sorted(
        [
            (image.public_id, "comments", image.public_id),
            (board.public_id, "comments", image.public_id),
            (image.public_id, "ratings", image.public_id),
            (board.public_id, "ratings", image.public_id),
        ]
    )
