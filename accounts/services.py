"""People's use cases: roles (from staff, or from the identity provider's groups at each sign-in), deactivation,
invite links, and the audit trail."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.identity import Identity, identity_role, identity_roles_from_groups
from accounts.models import AuditEvent, AuditKind, Invite, Person, Role, role_of


class PeopleError(Exception):
    """A change to people that is refused; the message says why, for the staff member who asked."""


def person_sign_in_with_identity(*, user: User, identity: Identity, ip: str | None) -> None:
    """At every sign-in through the identity provider: the role its groups give now (a superuser stays one)."""
    role = identity_role(identity)
    if role is not None and not user.is_superuser:
        person_set_role(user=user, role=role, actor=None, ip=ip, why=f"from {settings.OIDC_NAME} groups")
    audit_record(kind=AuditKind.SIGNED_IN, subject=user, detail=f"with {settings.OIDC_NAME}", ip=ip)


def person_set_role(*, user: User, role: Role, actor: User | None, ip: str | None, why: str = "") -> None:
    """Give `user` a role (recorded when it changes). Superusers stay staff: they are the break-glass admins."""
    before = role_of(user)
    if user.is_superuser and role != Role.STAFF:
        raise PeopleError(f"{user.get_username()} is a superuser, and stays staff. Change that in the admin.")
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(is_staff=role == Role.STAFF)
        person, _ = Person.objects.update_or_create(user=user, defaults={"may_generate": role != Role.VIEWER})
        if role != before:
            detail = f"{before.label} → {role.label}" + (f" ({why})" if why else "")
            audit_record(kind=AuditKind.ROLE_CHANGED, actor=actor, subject=user, detail=detail, ip=ip)
    user.is_staff = role == Role.STAFF
    user.person = person


def person_change_role(*, user: User, role: Role, actor: User, ip: str | None) -> None:
    """A staff member gives someone a role on the people page. Not their own (nobody locks themselves out), and
    not where the identity provider's groups set it at every sign-in."""
    if user.pk == actor.pk:
        raise PeopleError("You cannot change your own role; ask another staff member.")
    if identity_roles_from_groups() and SocialAccount.objects.filter(user=user).exists():
        raise PeopleError(
            f"{user.get_username()}'s role comes from their {settings.OIDC_NAME} groups at each sign-in: "
            "change the groups there."
        )
    person_set_role(user=user, role=role, actor=actor, ip=ip)


def person_set_active(*, user: User, active: bool, actor: User, ip: str | None) -> None:
    """Deactivate (or bring back) an account. A deactivated person's sessions and API tokens stop working at
    once (Django's session check and the token check both ask `is_active`); their images stay."""
    if user.pk == actor.pk:
        raise PeopleError("You cannot deactivate yourself; ask another staff member.")
    if user.is_active == active:
        return
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(is_active=active)
        kind = AuditKind.REACTIVATED if active else AuditKind.DEACTIVATED
        audit_record(kind=kind, actor=actor, subject=user, ip=ip)
    user.is_active = active


def invite_create(*, note: str, role: Role, created_by: User, ip: str | None) -> tuple[Invite, str]:
    """A one-time link for a new local account with `role`. Returns the invite and its token, which is shown
    once and never stored (only its hash is)."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invite = Invite.objects.create(
            token_hash=_digest(token),
            note=note,
            role=role,
            created_by=created_by,
            expires_at=timezone.now() + timedelta(days=settings.INVITE_VALID_DAYS),
        )
        audit_record(
            kind=AuditKind.INVITE_CREATED,
            actor=created_by,
            subject_label=note,
            detail=f"{Role(role).label}, valid {settings.INVITE_VALID_DAYS} days",
            ip=ip,
        )
    return invite, token


def invite_pending(token: str) -> Invite | None:
    """The invite a link names while it can still be used: not accepted, revoked or expired."""
    return Invite.objects.pending().filter(token_hash=_digest(token)).first()


def invite_accept(*, token: str, username: str, password: str, ip: str | None) -> User | None:
    """Make the invited account. None when the link was used, revoked or expired meanwhile: the invite's row is
    locked, so of two people opening one link at once exactly one gets the account."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update().pending().filter(token_hash=_digest(token)).first()
        if invite is None:
            return None
        user = get_user_model().objects.create_user(username, password=password)
        Person.objects.create(
            user=user, may_generate=invite.role != Role.VIEWER, invited_by=invite.created_by
        )
        if invite.role == Role.STAFF:
            get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
            user.is_staff = True
        Invite.objects.filter(pk=invite.pk).update(accepted_at=timezone.now(), accepted_by=user)
        audit_record(
            kind=AuditKind.INVITE_ACCEPTED,
            actor=user,
            subject=user,
            subject_label=invite.note,
            detail=Role(invite.role).label,
            ip=ip,
        )
    return user


def invite_revoke(*, invite_id: int, actor: User, ip: str | None) -> bool:
    """Revoke a pending invite; False when there is none by that number."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update().pending().filter(pk=invite_id).first()
        if invite is None:
            return False
        Invite.objects.filter(pk=invite.pk).update(revoked_at=timezone.now())
        audit_record(kind=AuditKind.INVITE_REVOKED, actor=actor, subject_label=invite.note, ip=ip)
    return True


def audit_record(
    *,
    kind: AuditKind,
    actor: User | None = None,
    subject: User | None = None,
    subject_label: str = "",
    detail: str = "",
    ip: str | None = None,
) -> AuditEvent:
    label_length = AuditEvent._meta.get_field("subject_label").max_length
    detail_length = AuditEvent._meta.get_field("detail").max_length
    return AuditEvent.objects.create(
        kind=kind,
        actor=actor,
        subject=subject,
        subject_label=(subject_label or (subject.get_username() if subject else ""))[:label_length],
        detail=detail[:detail_length],
        ip_address=ip,
    )


def _digest(token: str) -> str:
    # Invite tokens carry 256 random bits: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()
