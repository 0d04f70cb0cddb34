"""Blind judging rounds: the arms of one varied parameter, the images each arm shows (under opaque tokens), the
pairs that differ in that parameter only, the judges (team members, or guests through a share link) and their
ballots (a pair dealt to a judge, and later their vote on it)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from generations.models import Batch, Generation, new_public_id


def new_token() -> str:
    """192 random bits, URL-safe: guest links and image tokens can be neither guessed nor enumerated."""
    return secrets.token_urlsafe(24)


class RoundParameter(models.TextChoices):
    EXTEND = "extend", "Prompt extend"
    SIZE = "size", "Size"
    SEED = "seed", "Seed"
    PROMPT = "prompt", "Prompt"
    RUN = "run", "Run"
    MODEL = "model", "Model"


class Round(models.Model):
    """One question put to judges about the arms of one parameter, e.g. prompt extend off against on."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    question = models.CharField(max_length=200)
    parameter = models.CharField(max_length=16, choices=RoundParameter)
    source = models.CharField(max_length=300, help_text="Where its images came from, in words.")
    source_url = models.CharField(max_length=2000, blank=True)
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="rounds")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="rounds"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.public_id}: {self.question}"

    def get_absolute_url(self) -> str:
        return reverse("judging:round", args=[self.public_id])


class Arm(models.Model):
    """One value of the round's parameter ("Prompt extend on", "1024×1024", a run)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="arms")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=300)
    value = models.JSONField()

    class Meta:
        ordering = ["round", "position"]
        constraints = [models.UniqueConstraint(fields=["round", "position"], name="arm_position_unique")]

    def __str__(self) -> str:
        return self.label


class RoundImage(models.Model):
    """A generation as a round shows it: under a random token, so that its URL says nothing about it."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="images")
    arm = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="images")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)

    def __str__(self) -> str:
        return f"{self.arm}: {self.generation_id}"

    def get_absolute_url(self) -> str:
        return reverse("judging:image", args=[self.token])


class Pair(models.Model):
    """Two images of a round that differ in its parameter only (where its images allow), `a` the earlier arm."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="pairs")
    number = models.PositiveIntegerField(help_text="Its number within the round, for exports.")
    image_a = models.ForeignKey(RoundImage, on_delete=models.CASCADE, related_name="+")
    image_b = models.ForeignKey(RoundImage, on_delete=models.CASCADE, related_name="+")
    arm_a = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="+")
    arm_b = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "number"], name="pair_number_unique")]

    def __str__(self) -> str:
        return f"Pair {self.number}"


class GuestLinkQuerySet(models.QuerySet):
    def live(self) -> GuestLinkQuerySet:
        return self.filter(revoked_at__isnull=True)


class GuestLink(models.Model):
    """A share link through which people without an account judge a round under a name; revocable."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="guest_links")
    token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = GuestLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Guest link of {self.round}"

    def get_absolute_url(self) -> str:
        return reverse("judging:guest", args=[self.token])

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class Judge(models.Model):
    """Someone voting in a round: a team member (by account, or by browser session on an open instance), or a
    guest who came through a guest link and gave a name."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="judges")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    guest_link = models.ForeignKey(
        GuestLink, null=True, blank=True, on_delete=models.CASCADE, related_name="judges"
    )
    name = models.CharField(max_length=80)
    joined_from = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["round", "user"], name="judge_user_unique", condition=models.Q(user__isnull=False)
            )
        ]
        indexes = [models.Index(fields=["joined_from", "created_at"], name="judge_joined_from_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_guest(self) -> bool:
        return self.guest_link_id is not None


class Choice(models.TextChoices):
    """A judge's answer about a pair, relative to the pair's images a and b (whatever side each was shown on)."""

    A = "a", "A preferred"
    B = "b", "B preferred"
    TIE = "tie", "Tie"
    BOTH_BAD = "both_bad", "Both bad"
    SKIP = "skip", "Skipped"


class Ballot(models.Model):
    """A pair dealt to a judge, with the sides it was shown on; voted once `voted_at` is set.

    One per judge and pair: a judge never sees the same pair twice, skipped ones included.
    """

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="ballots")
    judge = models.ForeignKey(Judge, on_delete=models.CASCADE, related_name="ballots")
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="ballots")
    token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    a_on_left = models.BooleanField()
    choice = models.CharField(max_length=8, choices=Choice, blank=True)
    dealt_at = models.DateTimeField(default=timezone.now)
    voted_at = models.DateTimeField(null=True, blank=True)
    voted_from = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["judge", "pair"], name="ballot_once_per_judge")]
        indexes = [
            models.Index(fields=["round", "voted_at"], name="ballot_round_voted_idx"),
            models.Index(fields=["voted_from", "voted_at"], name="ballot_voted_from_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.judge}: {self.pair} ({self.choice or 'not voted'})"

    @property
    def left(self) -> RoundImage:
        return self.pair.image_a if self.a_on_left else self.pair.image_b

    @property
    def right(self) -> RoundImage:
        return self.pair.image_b if self.a_on_left else self.pair.image_a
