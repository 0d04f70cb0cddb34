"""Comments: post one (on an image or a board; a reply joins its thread), edit and delete it, its @mentions in
the teammates' inboxes; guests (who comment through a share link) and their rate limit per network address."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from generations.models import Generation
from generations.services.events import event_announce
from reviews.domain import mentioned_names
from reviews.models import Board, BoardShareLink, Comment, Guest, Mention
from reviews.people import Person
from reviews.selectors import generations_in_boards

# pg_advisory_xact_lock's first key for a guest address's comments ("gues" in ASCII); the second is its hash.
_GUEST_LOCK = 0x67756573
GUEST_WINDOW = timedelta(hours=1)


class CommentRefused(Exception):
    """A comment that was not recorded; the message says why, for people."""


def guest_for(*, session_key: str, name: str = "") -> Guest:
    """The guest this browser session stands for (made on first use), under the name given last, if any."""
    guest, made = Guest.objects.get_or_create(session_key=session_key, defaults={"name": name})
    if name and not made and guest.name != name:
        guest.name = name
        guest.save(update_fields=["name"])
    return guest


def comment_post(
    *,
    person: Person,
    text: str,
    generation: Generation | None = None,
    board: Board | None = None,
    reply_to: Comment | None = None,
    share_link: BoardShareLink | None = None,
    address: str | None = None,
) -> Comment:
    """Record a comment on an image or on a board (`reply_to`: in that comment's thread) and its mentions.

    A guest's comment through a share link counts against GUEST_COMMENTS_PER_HOUR for its network address,
    under a lock on that address, so that simultaneous posts cannot pass the limit together.
    """
    if reply_to is not None:
        generation, board = reply_to.generation, reply_to.board
    with transaction.atomic():
        if share_link is not None and address is not None:
            _check_guest_limit(address)
        comment = Comment.objects.create(
            **person.as_author,
            text=text,
            generation=generation,
            board=board if generation is None else None,
            parent=(reply_to.parent or reply_to) if reply_to is not None else None,
            share_link=share_link,
            address=address if share_link is not None else None,
        )
        _mention(comment)
        _announce(comment)
    return comment


def comment_edit(*, comment: Comment, text: str) -> Comment:
    with transaction.atomic():
        comment.text, comment.edited_at = text, timezone.now()
        comment.save(update_fields=["text", "edited_at"])
        _mention(comment)
        _announce(comment)
    return comment


def comment_delete(*, comment: Comment) -> Comment:
    """Delete a comment's text; the row stays while its thread has replies, which keep their place."""
    with transaction.atomic():
        comment.text, comment.deleted_at = "", timezone.now()
        comment.save(update_fields=["text", "deleted_at"])
        comment.mentions.all().delete()
        _announce(comment)
    return comment


def mentions_mark_seen(*, user: User) -> int:
    return Mention.objects.filter(user=user, seen_at__isnull=True).update(seen_at=timezone.now())


def _mention(comment: Comment) -> None:
    """The comment's mentions of active users (never its author) in their inboxes: new ones added, ones edited
    away removed if unseen."""
    names = mentioned_names(comment.text)
    users = get_user_model().objects.filter(username__in=names, is_active=True)
    if comment.user_id is not None:
        users = users.exclude(pk=comment.user_id)
    wanted = set(users.values_list("pk", flat=True))
    comment.mentions.exclude(user__in=wanted).filter(seen_at__isnull=True).delete()
    Mention.objects.bulk_create(
        [Mention(comment=comment, user_id=user_id) for user_id in wanted], ignore_conflicts=True
    )


def _check_guest_limit(address: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_GUEST_LOCK, address])
    recent = Comment.objects.filter(address=address, created_at__gte=timezone.now() - GUEST_WINDOW).count()
    if recent >= settings.GUEST_COMMENTS_PER_HOUR:
        raise CommentRefused(
            f"Guests may post {settings.GUEST_COMMENTS_PER_HOUR} comments an hour from one network address, and "
            "that many came from yours. Try again later, or sign in."
        )


def _announce(comment: Comment) -> None:
    if comment.generation is not None:
        about = comment.generation.public_id
        topics = [about, *generations_in_boards(generations=[comment.generation])]
    else:
        assert comment.board is not None  # a comment is on an image or on a board
        about, topics = "", [comment.board.public_id]
    for topic in topics:
        event_announce(topic=topic, kind="comments", about=about)
