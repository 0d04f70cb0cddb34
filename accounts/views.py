from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.forms import (
    ActiveForm,
    AuditPageForm,
    InviteAcceptForm,
    InviteForm,
    InviteRevokeForm,
    RoleForm,
)
from accounts.http import client_ip
from accounts.models import Role
from accounts.selectors import AUDIT_PAGE_SIZE, audit_events, invites_pending, people_overview
from accounts.services import (
    PeopleError,
    invite_accept,
    invite_create,
    invite_pending,
    invite_revoke,
    person_change_role,
    person_set_active,
)
from generations.http import AuthenticatedHttpRequest

# A session made by accepting an invite is Django's own (the sign-in page's backend).
SESSION_BACKEND = "accounts.backends.RoleBackend"


def staff_only[V: Callable[..., HttpResponse]](view: V) -> V:
    @functools.wraps(view)
    @login_required
    def wrapper(request: AuthenticatedHttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Only staff manage people.")
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@require_safe
@staff_only
def people(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = {
        "rows": people_overview(),
        "invites": invites_pending(),
        "roles": Role.choices,
        "sso_name": settings.OIDC_NAME,
    }
    return render(request, "accounts/people.html", context)


@require_POST
@staff_only
def person_role(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Name a person by their number and a role.")
    user = get_object_or_404(get_user_model(), pk=form.cleaned_data["user"])
    role = Role(form.cleaned_data["role"])
    try:
        person_change_role(user=user, role=role, actor=request.user, ip=client_ip(request))
    except PeopleError as err:
        messages.error(request, str(err))
    else:
        messages.success(request, f"{user.get_username()} is now {role.label.lower()}.")
    return redirect("accounts:people")


@require_POST
@staff_only
def person_active(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ActiveForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Name a person by their number.")
    user = get_object_or_404(get_user_model(), pk=form.cleaned_data["user"])
    active = form.cleaned_data["active"]
    try:
        person_set_active(user=user, active=active, actor=request.user, ip=client_ip(request))
    except PeopleError as err:
        messages.error(request, str(err))
    else:
        messages.success(
            request,
            f"{user.get_username()} can sign in again."
            if active
            else f"{user.get_username()} was deactivated: signed out, and their API tokens answer 401. "
            "Their images stay.",
        )
    return redirect("accounts:people")


@require_http_methods(["GET", "HEAD", "POST"])
@staff_only
@never_cache
def invite_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The invite form; after it, the link itself, shown this once (never cached: it opens an account)."""
    form = InviteForm(request.POST if request.method == "POST" else None)
    context: dict[str, object] = {"valid_days": settings.INVITE_VALID_DAYS}
    if request.method == "POST" and form.is_valid():
        invite, token = invite_create(
            note=form.cleaned_data["note"],
            role=Role(form.cleaned_data["role"]),
            created_by=request.user,
            ip=client_ip(request),
        )
        link = request.build_absolute_uri(reverse("accounts:invite-accept", args=[token]))
        context |= {"invite": invite, "link": link}
        form = InviteForm()
    return render(request, "accounts/invite_new.html", context | {"form": form})


@require_POST
@staff_only
def invite_revoke_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = InviteRevokeForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Name an invite by its number.")
    if invite_revoke(invite_id=form.cleaned_data["invite"], actor=request.user, ip=client_ip(request)):
        messages.success(request, "The invite was revoked; its link no longer opens anything.")
    return redirect("accounts:people")


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def invite_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    invite = invite_pending(token)
    if invite is None:
        return render(request, "accounts/invite_gone.html", status=410)
    form = InviteAcceptForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = invite_accept(
            token=token,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
            ip=client_ip(request),
        )
        if user is None:
            return render(request, "accounts/invite_gone.html", status=410)
        login(request, user, backend=SESSION_BACKEND)
        messages.success(request, f"Welcome, {user.get_username()}. You are signed in.")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/invite_accept.html", {"invite": invite, "form": form})


@require_safe
@staff_only
def audit(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = AuditPageForm(request.GET)
    if not page.is_valid():
        raise BadRequest("`before` is the number of an event.")
    events = audit_events(before=page.cleaned_data["before"])
    context = {"events": events, "older": events[-1].pk if len(events) == AUDIT_PAGE_SIZE else None}
    return render(request, "accounts/audit.html", context)
