"""What a team records while reviewing: boards (with their members, images and share links), each person's
ratings (and every image's summary of them), threaded comments with their @mentions, and where each person was
in a board's review.

A person is a signed-in user or a `Guest`: the browser session that stands for a person on an open instance (as
it does for deleting today), or someone commenting through a share link under the name they gave. Every row a
person writes names exactly one of the two (`ByPerson`).
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from generations.models import Generation, new_public_id
from reviews.domain import (
    BOARD_DESCRIPTION_MAX_CHARS,
    BOARD_NAME_MAX_CHARS,
    GUEST_NAME_MAX_CHARS,
    LINK_LABEL_MAX_CHARS,
    MAX_RATING,
    MIN_RATING,
    ReviewStatus,
)


def new_share_token() -> str:
    """256 random bits, URL-safe: a share link can be neither guessed nor enumerated."""
    return secrets.token_urlsafe(32)


SHARE_TOKEN_PATTERN = r"[A-Za-z0-9_-]{43}"  # noqa: S105 (a pattern, not a secret)
_SHARE_TOKEN = re.compile(SHARE_TOKEN_PATTERN)


def is_share_token(value: str) -> bool:
    return _SHARE_TOKEN.fullmatch(value) is not None


class Guest(models.Model):
    """Someone without an account: an open instance's browser session, or a share link's commenter."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    session_key = models.CharField(
        max_length=32,
        unique=True,
        help_text="The random id kept in the browser session (the one that may delete what it made): never shown.",
    )
    name = models.CharField(max_length=GUEST_NAME_MAX_CHARS, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name or f"Guest {self.public_id[:4]}"


class ByPerson(models.Model):
    """A row written by one person: a user or a guest, never both, never neither."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    guest = models.ForeignKey(Guest, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True) ^ Q(guest__isnull=True), name="%(class)s_by_one_person"
            )
        ]

    @property
    def person_name(self) -> str:
        return self.user.get_username() if self.user is not None else str(self.guest)


def _one_per_person(*fields: str, name: str) -> list[models.UniqueConstraint]:
    """One row per person and `fields` (a user's, or a guest's)."""
    return [
        models.UniqueConstraint(*fields, by, name=f"{name}_per_{by}", condition=Q(**{f"{by}__isnull": False}))
        for by in ("user", "guest")
    ]


class Board(models.Model):
    """A named set of generations in an order of its own, or a smart board: saved gallery filters whose images
    are whatever matches them now. Deleting a board never deletes an image."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=BOARD_NAME_MAX_CHARS)
    description = models.TextField(max_length=BOARD_DESCRIPTION_MAX_CHARS, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="boards"
    )
    owner_guest = models.ForeignKey(
        Guest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="boards",
        help_text="On an open instance: the browser session that made it.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="board_memberships",
        help_text="Besides the owner, who may add, remove, order and review its images.",
    )
    smart_query = models.CharField(
        max_length=2000,
        blank=True,
        help_text="A smart board: the gallery's filters as a query string (search, status, ratings, favourites…).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-public_id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("reviews:board", args=[self.public_id])

    @property
    def is_smart(self) -> bool:
        return bool(self.smart_query)


class BoardItem(models.Model):
    """An image on a board, at its place, with its review status there (who set it and when)."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="items")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="board_items")
    position = models.IntegerField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    review_status = models.CharField(
        max_length=16,
        choices=[(status.value, status.label) for status in ReviewStatus],
        default=ReviewStatus.NEEDS_REVIEW,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_by_guest = models.ForeignKey(
        Guest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    # Set where a board's images are listed: the item's place as shown, and the addresses its tile links.
    index: int
    urls: dict[str, str]

    class Meta:
        ordering = ["board", "position"]
        constraints = [
            models.UniqueConstraint("board", "generation", name="board_item_once_per_board"),
        ]
        indexes = [models.Index(fields=["board", "position"], name="board_item_order_idx")]

    def __str__(self) -> str:
        return f"{self.board} #{self.position}"

    @property
    def is_approved(self) -> bool:
        return self.review_status == ReviewStatus.APPROVED

    @property
    def is_rejected(self) -> bool:
        return self.review_status == ReviewStatus.REJECTED

    @property
    def reviewer_name(self) -> str:
        if self.reviewed_by is not None:
            return self.reviewed_by.get_username()
        return str(self.reviewed_by_guest) if self.reviewed_by_guest is not None else ""


class LinkScope(models.TextChoices):
    VIEW = "view", "View"
    COMMENT = "comment", "View and comment"


class LinkAudience(models.TextChoices):
    ANYONE = "anyone", "Anyone with the link"
    SIGNED_IN = "signed_in", "Signed-in users only"


class BoardShareLink(models.Model):
    """One of a board's share links: its own label, scope and audience, on or off. Its token is the URL's
    secret; the public id names it on the board's own pages."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="share_links")
    token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    label = models.CharField(max_length=LINK_LABEL_MAX_CHARS, blank=True)
    scope = models.CharField(max_length=8, choices=LinkScope, default=LinkScope.VIEW)
    audience = models.CharField(max_length=16, choices=LinkAudience, default=LinkAudience.ANYONE)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "public_id"]

    def __str__(self) -> str:
        return self.label or f"Link {self.public_id[:6]}"

    def get_absolute_url(self) -> str:
        return reverse("reviews:shared", args=[self.token])

    @property
    def allows_comments(self) -> bool:
        return self.scope == LinkScope.COMMENT


class Rating(ByPerson):
    """One person's stars for one image, kept apart from everyone else's."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="ratings")
    value = models.PositiveSmallIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            *ByPerson.Meta.constraints,
            *_one_per_person("generation", name="rating_once"),
            models.CheckConstraint(
                condition=Q(value__gte=MIN_RATING, value__lte=MAX_RATING), name="rating_in_range"
            ),
        ]
        indexes = [
            # "My rating" as a gallery's order and filter.
            models.Index(
                "user",
                F("value").desc(),
                F("generation").desc(),
                name="rating_by_user_idx",
                condition=Q(user__isnull=False),
            ),
            models.Index(
                "guest",
                F("value").desc(),
                F("generation").desc(),
                name="rating_by_guest_idx",
                condition=Q(guest__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value}★ by {self.person_name}"


class RatingSummary(models.Model):
    """An image's ratings in sum, written with them: the team's mean and count, and the order by mean."""

    generation = models.OneToOneField(
        Generation, primary_key=True, on_delete=models.CASCADE, related_name="rating_summary"
    )
    count = models.PositiveIntegerField()
    total = models.PositiveIntegerField()
    mean_milli = models.GeneratedField(
        expression=F("total") * 1000 / F("count"),
        output_field=models.IntegerField(),
        db_persist=True,
        help_text="The mean in thousandths of a star, rounded down: an exact key to order and page by.",
    )

    class Meta:
        indexes = [
            models.Index(F("mean_milli").desc(), F("generation").desc(), name="rating_summary_mean_idx")
        ]

    def __str__(self) -> str:
        return f"{self.mean:.2f}★ ({self.count})"

    @property
    def mean(self) -> float:
        return self.total / self.count


class Comment(ByPerson):
    """A comment on an image or on a board; a reply names its thread's first comment as parent."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    generation = models.ForeignKey(
        Generation, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    board = models.ForeignKey(Board, null=True, blank=True, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    share_link = models.ForeignKey(
        BoardShareLink,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="comments",
        help_text="The share link a guest commented through.",
    )
    address = models.GenericIPAddressField(
        null=True, blank=True, help_text="A guest's network address, for the guests' rate limit."
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "public_id"]
        constraints = [
            *ByPerson.Meta.constraints,
            models.CheckConstraint(
                condition=Q(generation__isnull=True) ^ Q(board__isnull=True), name="comment_on_one_thing"
            ),
        ]
        indexes = [
            models.Index(fields=["generation", "created_at"], name="comment_on_image_idx"),
            models.Index(fields=["board", "created_at"], name="comment_on_board_idx"),
            models.Index(
                fields=["address", "created_at"],
                name="comment_by_address_idx",
                condition=Q(address__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_name}: {self.text[:60]}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Mention(models.Model):
    """A comment's @mention of a user: an entry in their inbox until they have seen it."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions")
    created_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint("comment", "user", name="mention_once_per_comment")]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="mention_inbox_idx"),
            models.Index(fields=["user"], name="mention_unseen_idx", condition=Q(seen_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"@{self.user} in {self.comment_id}"


class ReviewPlace(ByPerson):
    """Where a person was in a board's review: review mode opens there again."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="review_places")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [*ByPerson.Meta.constraints, *_one_per_person("board", name="review_place_once")]

    def __str__(self) -> str:
        return f"{self.person_name} at {self.generation_id} on {self.board_id}"
