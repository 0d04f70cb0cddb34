"""Reads for the people pages: everyone with their role and figures, pending invites, the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.identity import Identity, identity_roles_from_groups
from accounts.models import AuditEvent, Invite, Role, role_of
from generations.models import ApiToken, Generation, GenerationStatus

AUDIT_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PersonRow:
    user: User
    role: Role
    sso: bool  # signs in through the identity provider
    password: bool  # has a password to sign in with
    groups: list[str]  # the identity provider's groups at their last sign-in
    images_this_month: int
    active_tokens: int
    # This month's spend and a budget override come with budgets (issue 20); None until then.
    spend_this_month: None = None
    budget_override: None = None

    @property
    def role_from_groups(self) -> bool:
        """Whether the identity provider's groups set this role at each sign-in (then staff cannot change it)."""
        return self.sso and identity_roles_from_groups()


def month_start() -> datetime:
    return timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def people_overview() -> list[PersonRow]:
    """Everyone, active people first, with this month's images, their API tokens and how they sign in: two
    queries."""
    images = _count_per_user(
        Generation.objects.filter(created_at__gte=month_start(), status=GenerationStatus.SUCCEEDED)
    )
    tokens = _count_per_user(ApiToken.objects.active())
    users = (
        get_user_model()
        .objects.select_related("person")
        .annotate(images_this_month=images, active_tokens=tokens)
        .order_by("-is_active", "username")
    )
    social_accounts: dict[int, list[SocialAccount]] = {}
    for account in SocialAccount.objects.filter(user__in=users):
        social_accounts.setdefault(account.user_id, []).append(account)
    rows = []
    for user in users:
        linked = social_accounts.get(user.pk, [])
        rows.append(
            PersonRow(
                user=user,
                role=role_of(user),
                sso=bool(linked),
                password=user.has_usable_password(),
                groups=_groups(linked),
                images_this_month=user.images_this_month,
                active_tokens=user.active_tokens,
            )
        )
    return rows


def invites_pending() -> QuerySet[Invite]:
    return Invite.objects.pending().select_related("created_by")


def audit_events(*, before: int | None = None) -> list[AuditEvent]:
    """The newest events (older than event number `before`, for the next page)."""
    events = AuditEvent.objects.select_related("actor", "subject")
    if before is not None:
        events = events.filter(pk__lt=before)
    return list(events.order_by("-pk")[:AUDIT_PAGE_SIZE])


def _count_per_user(rows: QuerySet) -> Coalesce:
    per_user = rows.filter(user=OuterRef("pk")).order_by().values("user").annotate(count=Count("pk"))
    return Coalesce(Subquery(per_user.values("count")), 0)


def _groups(linked: list[SocialAccount]) -> list[str]:
    identities = [Identity.from_social_account_data(account.extra_data or {}) for account in linked]
    return sorted(set().union(*(identity.groups for identity in identities)))
