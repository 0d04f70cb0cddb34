"""People: each account's role, the invite links that make local accounts, and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """What a person may do. Viewers see the gallery, boards and grids, rate and comment; members also generate
    (spend); staff also manage people. Staff is Django's `is_staff`; `Person.may_generate` makes a member."""

    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    STAFF = "staff", "Staff"


class Person(models.Model):
    """What the playground knows of an account beyond Django's user: whether it may generate. An account without
    a row is a viewer."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="person"
    )
    may_generate = models.BooleanField(default=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return str(self.user)


def role_of(user: User) -> Role:
    """A signed-in account's role (the row is cached on the user, so asking again costs nothing)."""
    if user.is_staff:
        return Role.STAFF
    try:
        return Role.MEMBER if user.person.may_generate else Role.VIEWER
    except Person.DoesNotExist:
        return Role.VIEWER


class InviteQuerySet(models.QuerySet):
    def pending(self) -> InviteQuerySet:
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


class Invite(models.Model):
    """A one-time, expiring link that makes a local account with a role. Only the token's SHA-256 is kept: the
    link is shown once, to the staff member who made it."""

    token_hash = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=200, help_text="Whom the link is for, as staff described them.")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="invite"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InviteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invite for {self.note}"


class AuditKind(models.TextChoices):
    SIGNED_IN = "signed_in", "Signed in"
    SIGN_IN_REFUSED = "sign_in_refused", "Sign-in refused"
    ROLE_CHANGED = "role_changed", "Role changed"
    DEACTIVATED = "deactivated", "Deactivated"
    REACTIVATED = "reactivated", "Reactivated"
    INVITE_CREATED = "invite_created", "Invite made"
    INVITE_REVOKED = "invite_revoked", "Invite revoked"
    INVITE_ACCEPTED = "invite_accepted", "Invite accepted"
    PASSWORD_CHANGED = "password_changed", "Password changed"


class AuditEvent(models.Model):
    """One thing that happened to who may do what: who did it (`actor`), to whom (`subject`, or `subject_label`
    when no account was made, as for a refused sign-in), when and from which address."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32, choices=AuditKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject_label = models.CharField(max_length=254, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject or self.subject_label}"
