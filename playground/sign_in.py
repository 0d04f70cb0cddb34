"""Signing in and out: the sign-in page (the identity provider's button first when one is configured, then the
password form), its answer when django-axes pauses a username from an address (settings: AXES_*), sign-out
(ending the identity provider's session too), and changing one's password."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialAccount
from axes.conf import settings  # Django's settings, with axes's defaults filled in
from axes.helpers import get_cool_off
from django.contrib import messages
from django.contrib.auth import get_user_model, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Field
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import client_ip
from accounts.models import AuditKind
from accounts.services import audit_record
from generations.http import AuthenticatedHttpRequest
from playground.sso import SIGNED_IN_WITH_SSO, sso_configured, sso_end_session_url, sso_sign_in_url


class PasswordSignInForm(AuthenticationForm):
    """Django's sign-in form; with OIDC_ONLY it lets in superusers alone (the break-glass accounts)."""

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if settings.OIDC_ONLY and not user.is_superuser:
            raise ValidationError(
                f"Passwords are turned off here: sign in with {settings.OIDC_NAME}.", code="sso_only"
            )


class SignInView(auth_views.LoginView):
    form_class = PasswordSignInForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | sign_in_context(self.request)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        audit_record(
            kind=AuditKind.SIGNED_IN,
            subject=form.get_user(),
            detail="with a password",
            ip=client_ip(self.request),
        )
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        if username := attempted_username(self.request, None):
            audit_record(
                kind=AuditKind.SIGN_IN_REFUSED,
                subject=form.get_user(),
                subject_label=username,
                detail=" ".join(str(error) for error in form.non_field_errors())
                or "The form was not filled in.",
                ip=client_ip(self.request),
            )
        return super().form_invalid(form)


def sign_in_context(request: HttpRequest) -> dict:
    """What the sign-in page shows besides the form: the identity provider's button, and whether the password
    form is offered (with OIDC_ONLY only at `?password=1`, for the break-glass account)."""
    return {
        "sso_configured": sso_configured(),
        "sso_name": settings.OIDC_NAME,
        "sso_sign_in_url": sso_sign_in_url() if sso_configured() else "",
        "password_form_shown": not settings.OIDC_ONLY
        or request.method == "POST"
        or request.GET.get("password") == "1",
    }


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """End the session here and, for a session opened through the identity provider, there too."""
    with_sso = request.session.get(SIGNED_IN_WITH_SSO, False)
    logout(request)
    end_session_url = sso_end_session_url(request) if with_sso and sso_configured() else None
    return redirect(end_session_url or settings.LOGOUT_REDIRECT_URL)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def password_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    if settings.OIDC_ONLY and SocialAccount.objects.filter(user=user).exists():
        raise PermissionDenied(
            f"Your account signs in with {settings.OIDC_NAME}: change your password there."
        )
    form = PasswordChangeForm(user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        audit_record(kind=AuditKind.PASSWORD_CHANGED, actor=user, subject=user, ip=client_ip(request))
        messages.success(request, "Your password was changed.")
        return redirect("generations:home")
    return render(request, "registration/password_change.html", {"form": form})


def attempted_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The username a sign-in attempt names, as axes counts and records it (AXES_USERNAME_CALLABLE).

    Django's sign-in form does not limit the length of what is posted, and axes's column takes 255 characters:
    the name is cut to the longest a username can be, which no real account's name exceeds.
    """
    username = (credentials or request.POST).get(settings.AXES_USERNAME_FORM_FIELD)
    if not isinstance(username, str):
        return username
    username_field = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD)
    assert isinstance(username_field, Field)  # a column, never a relation
    return username[: username_field.max_length]


def locked_out(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """The site's own sign-in page, saying why and for how long, as 429 Too Many Requests.

    Axes passes the login view's response and the credentials in an order that differs between its sync and
    async paths; neither is needed here.
    """
    minutes = max(round(get_cool_off(request).total_seconds() / 60), 1)
    audit_record(
        kind=AuditKind.SIGN_IN_REFUSED,
        subject_label=attempted_username(request, None) or "",
        detail=f"Paused for {minutes} minutes after too many wrong passwords.",
        ip=client_ip(request),
    )
    context = sign_in_context(request) | {
        "form": AuthenticationForm(request, initial={"username": request.POST.get("username", "")}),
        "next": request.POST.get("next", ""),
        "sign_in_paused": (
            f"Too many wrong passwords for this username from your address: signing in is paused for "
            f"{minutes} minutes. An administrator can lift the pause sooner in the admin (Axes › Access attempts)."
        ),
    }
    return render(request, "registration/login.html", context, status=429)
