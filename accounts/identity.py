"""Who the identity provider's answer lets in, with which role: the rules of OIDC_ALLOWED_DOMAINS,
OIDC_ALLOWED_GROUPS, OIDC_ADMIN_GROUPS and OIDC_MEMBER_GROUPS (playground/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from accounts.models import Role

# Groups beyond this many in one claim are not read: no real person is in more, and the claim is the IdP's text.
MAX_GROUPS = 1000


class SignInRefused(Exception):
    """The identity provider vouched for someone this playground does not let in; the message says why."""


@dataclass(frozen=True, slots=True)
class Identity:
    """What the identity provider says about a person at sign-in."""

    email: str
    email_verified: bool
    groups: frozenset[str]

    @classmethod
    def from_social_account_data(cls, data: dict) -> Identity:
        """From what django-allauth keeps of a sign-in: the ID token's claims and the fresher userinfo answer."""
        return cls.from_claims((data.get("id_token") or {}) | (data.get("userinfo") or {}))

    @classmethod
    def from_claims(cls, claims: dict) -> Identity:
        groups = claims.get(settings.OIDC_GROUPS_CLAIM)
        groups = [groups] if isinstance(groups, str) else groups if isinstance(groups, list) else []
        email = claims.get("email")
        return cls(
            email=email.strip() if isinstance(email, str) else "",
            email_verified=claims.get("email_verified") is True,
            groups=frozenset(group for group in groups[:MAX_GROUPS] if isinstance(group, str)),
        )

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()


def identity_admit(identity: Identity) -> None:
    """Raise SignInRefused unless OIDC_ALLOWED_DOMAINS and OIDC_ALLOWED_GROUPS (those set) let this person in."""
    domains = settings.OIDC_ALLOWED_DOMAINS
    if domains:
        allowed = ", ".join(domains)
        if not identity.email:
            raise SignInRefused(
                f"{settings.OIDC_NAME} did not tell the playground your e-mail address, and only addresses at "
                f"{allowed} may sign in here."
            )
        if not identity.email_verified:
            raise SignInRefused(
                f"{settings.OIDC_NAME} says your e-mail address {identity.email} is not verified, and only "
                f"verified addresses at {allowed} may sign in here. Verify it there, then sign in again."
            )
        if identity.domain not in domains:
            raise SignInRefused(
                f"Only addresses at {allowed} may sign in here; {settings.OIDC_NAME} gave {identity.email}."
            )
    groups = settings.OIDC_ALLOWED_GROUPS
    if groups and not identity.groups.intersection(groups):
        raise SignInRefused(
            f"Only members of {' or '.join(groups)} in {settings.OIDC_NAME} may sign in here. "
            "Ask whoever manages those groups to add you."
        )


def identity_role(identity: Identity) -> Role | None:
    """The role the identity provider's groups give, or None where roles do not come from groups (neither
    OIDC_ADMIN_GROUPS nor OIDC_MEMBER_GROUPS is set: staff give roles on the people page)."""
    if not identity_roles_from_groups():
        return None
    if identity.groups.intersection(settings.OIDC_ADMIN_GROUPS):
        return Role.STAFF
    if identity.groups.intersection(settings.OIDC_MEMBER_GROUPS):
        return Role.MEMBER
    return Role.VIEWER


def identity_roles_from_groups() -> bool:
    return bool(settings.OIDC_ADMIN_GROUPS or settings.OIDC_MEMBER_GROUPS)


def identity_may_link(identity: Identity) -> bool:
    """Whether this sign-in may open an existing account with the same e-mail address: only when the identity
    provider verified the address and its domain may enter."""
    domains = settings.OIDC_ALLOWED_DOMAINS
    return identity.email_verified and (not domains or identity.domain in domains)
