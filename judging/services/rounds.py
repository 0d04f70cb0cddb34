"""Use cases of a round: make it from some images (its arms, their images under opaque tokens, and its pairs, in
one transaction), and open or close its guest links."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from judging.models import Arm, GuestLink, Pair, Round, RoundImage
from judging.selectors import RoundSource


class RoundRefused(Exception):
    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def round_create(
    *,
    source: RoundSource,
    parameter: str,
    question: str,
    described_as: str,
    source_url: str = "",
    user: User | AnonymousUser | None = None,
) -> Round:
    """A round comparing the arms of `parameter` over the source's images; RoundRefused when they make no pair."""
    plan = source.plan(parameter)
    if not plan.pairs:
        raise RoundRefused("These images make no pair that differs in that parameter: pick another one.")
    owner = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        round = Round.objects.create(
            question=question,
            parameter=parameter,
            source=described_as,
            source_url=source_url,
            batch=source.batch,
            user=owner,
        )
        arms = Arm.objects.bulk_create(
            Arm(round=round, position=position, label=source.arm_label(parameter, value)[:300], value=value)
            for position, value in enumerate(plan.arms)
        )
        arm_of = {arm.value: arm for arm in arms}
        shown = {candidate.key: candidate for pair in plan.pairs for candidate in pair}
        images = RoundImage.objects.bulk_create(
            RoundImage(round=round, arm=arm_of[candidate.values[parameter]], generation_id=key)
            for key, candidate in shown.items()
        )
        image_of = {image.generation_id: image for image in images}
        Pair.objects.bulk_create(
            Pair(
                round=round,
                number=number,
                image_a=image_of[first.key],
                image_b=image_of[second.key],
                arm_a=image_of[first.key].arm,
                arm_b=image_of[second.key].arm,
            )
            for number, (first, second) in enumerate(plan.pairs, start=1)
        )
    return round


def guest_link_create(*, round: Round, user: User | AnonymousUser | None = None) -> GuestLink:
    owner = user if user is not None and user.is_authenticated else None
    return GuestLink.objects.create(round=round, created_by=owner)


def guest_link_revoke(*, link: GuestLink) -> GuestLink:
    """Close a guest link for good: its guests' votes so far still count, new ones are refused."""
    GuestLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    link.refresh_from_db()
    return link
