"""Signing in with the team's identity provider: django-allauth's OpenID Connect provider, configured from the
OIDC_* settings, with the playground's rules on who may enter and with which role (accounts/services.py).

allauth does the protocol: discovery, the authorization code flow with PKCE (S256), the state kept in the session
and checked once, client authentication, and the ID token's issuer, audience and expiry (its signature too, except
where the token came straight from the token endpoint over the back channel, as OpenID Connect Core 3.1.3.7
allows). The playground adds who may enter, the role from groups at every sign-in, the audit trail, its own pages
for refusals, and the identity provider's sign-out.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import httpx
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers.base import AuthError
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from requests import RequestException

from accounts.http import client_ip
from accounts.identity import Identity, SignInRefused, identity_admit, identity_may_link
from accounts.models import AuditKind
from accounts.services import audit_record, person_sign_in_with_identity

logger = logging.getLogger(__name__)

PROVIDER = "openid_connect"
PROVIDER_ID = "sso"
# Marks a session opened through the identity provider, so that signing out ends its session there too.
SIGNED_IN_WITH_SSO = "signed_in_with_sso"
DISCOVERY_TIMEOUT_S = 5.0


def sso_configured() -> bool:
    return bool(settings.OIDC_ISSUER)


def sso_sign_in_url() -> str:
    return reverse("openid_connect_login", kwargs={"provider_id": PROVIDER_ID})


def sso_app() -> SocialApp:
    """The identity provider as allauth's provider app, from the settings (nothing is kept in the database)."""
    return SocialApp(
        provider=PROVIDER,
        provider_id=PROVIDER_ID,
        name=settings.OIDC_NAME,
        client_id=settings.OIDC_CLIENT_ID,
        secret=settings.OIDC_CLIENT_SECRET,
        settings={
            "server_url": settings.OIDC_ISSUER,
            "oauth_pkce_enabled": True,
            "scope": settings.OIDC_SCOPES,
            # Tokens must name the issuer the playground was configured with, not merely the one the discovery
            # document claims (OpenID Connect Discovery 1.0, 4.3).
            "openid_configuration_overrides": {"issuer": settings.OIDC_ISSUER},
        },
    )


def sso_end_session_url(request: HttpRequest) -> str | None:
    """Where to send a person signing out so that the identity provider ends its session too, or None when it
    offers no `end_session_endpoint` (or cannot be asked: signing out here must never wait on it)."""
    try:
        discovery = httpx.get(
            f"{settings.OIDC_ISSUER}/.well-known/openid-configuration", timeout=DISCOVERY_TIMEOUT_S
        )
        endpoint = discovery.raise_for_status().json().get("end_session_endpoint")
    except (httpx.HTTPError, ValueError) as err:
        logger.warning("The identity provider's discovery document could not be read at sign-out: %s", err)
        return None
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    query = {
        "client_id": settings.OIDC_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse(settings.LOGOUT_REDIRECT_URL)),
    }
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(
        self, request: HttpRequest | None, provider: str | None = None, client_id: str | None = None
    ) -> list[SocialApp]:
        if not sso_configured():
            return []
        app = sso_app()
        if provider not in (None, app.provider, app.provider_id) or client_id not in (None, app.client_id):
            return []
        return [app]

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True  # who may enter is decided before (pre_social_login)

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        identity = _identity(sociallogin)
        existing = sociallogin.user if sociallogin.is_existing else None
        try:
            identity_admit(identity)
            if existing is not None and not existing.is_active:
                raise SignInRefused(
                    "Your account here was deactivated by a staff member; ask one if this is a mistake."
                )
        except SignInRefused as refused:
            audit_record(
                kind=AuditKind.SIGN_IN_REFUSED,
                subject=existing,
                subject_label=identity.email or f"{settings.OIDC_NAME} user {sociallogin.account.uid}",
                detail=str(refused),
                ip=client_ip(request),
            )
            raise ImmediateHttpResponse(_refused(request, str(refused), status=403)) from refused

    def can_authenticate_by_email(self, login: SocialLogin, email: str) -> bool:
        return identity_may_link(_identity(login))

    def authenticate_by_email(self, sociallogin: SocialLogin) -> tuple[User, str] | None:
        found = super().authenticate_by_email(sociallogin)
        # A superuser is the break-glass account: an e-mail address never opens it (nor ends its password).
        if found is not None and found[0].is_superuser:
            return None
        return found

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: object,
        error: str | None = None,
        exception: BaseException | None = None,
        extra_context: dict | None = None,
    ) -> None:
        if error == AuthError.CANCELLED:
            reason, status = f"Signing in with {settings.OIDC_NAME} was cancelled; nothing changed here.", 400
        elif exception is None and not (extra_context or {}).get("state"):
            # No sign-in started here matches the callback's state: replayed, expired, forged, or another browser.
            reason, status = (
                "This sign-in does not match one started from this browser in the last 10 minutes (it was "
                "used already, expired, or began elsewhere). Start again from the sign-in page.",
                400,
            )
        elif exception is None:
            code = request.GET.get("error", "")
            reason, status = (
                f"{settings.OIDC_NAME} did not sign you in"
                + (f" (it answered {code})" if code.replace("_", "").isalnum() and len(code) < 64 else "")
                + ". Try again, or ask whoever manages your account there.",
                403,
            )
        elif isinstance(exception, RequestException):
            reason, status = f"{settings.OIDC_NAME} could not be reached. Try again in a moment.", 502
        else:
            reason, status = (
                f"{settings.OIDC_NAME}'s answer failed the playground's checks (a token for another "
                "application, from another issuer, or expired), so nobody was signed in. If it happens again, "
                "tell whoever runs the playground: its log says more.",
                403,
            )
        logger.warning(
            "Signing in with the identity provider failed (%s): %r, because %r",
            error,
            exception,
            exception.__cause__ if exception is not None else None,
        )
        audit_record(
            kind=AuditKind.SIGN_IN_REFUSED,
            subject_label=f"someone at {settings.OIDC_NAME}",
            detail=reason,
            ip=client_ip(request),
        )
        raise ImmediateHttpResponse(_refused(request, reason, status=status))


class AccountAdapter(DefaultAccountAdapter):
    """allauth's account side serves the identity provider's sign-in only: no sign-up of its own."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def post_login(self, request: HttpRequest, user: User, **kwargs: Any) -> HttpResponse:
        sociallogin = (kwargs.get("signal_kwargs") or {}).get("sociallogin")
        if sociallogin is not None:
            person_sign_in_with_identity(user=user, identity=_identity(sociallogin), ip=client_ip(request))
            request.session[SIGNED_IN_WITH_SSO] = True
        return super().post_login(request, user, **kwargs)


def _identity(sociallogin: SocialLogin) -> Identity:
    return Identity.from_social_account_data(sociallogin.account.extra_data or {})


def _refused(request: HttpRequest, reason: str, *, status: int) -> HttpResponse:
    context = {"reason": reason, "sso_name": settings.OIDC_NAME, "sso_sign_in_url": sso_sign_in_url()}
    return render(request, "registration/sign_in_refused.html", context, status=status)
