"""The sign-in page's answer when django-axes refuses a username from an address (settings: AXES_*)."""

from __future__ import annotations

from axes.conf import settings  # Django's settings, with axes's defaults filled in
from axes.helpers import get_cool_off
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Field
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


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
    context = {
        "form": AuthenticationForm(request, initial={"username": request.POST.get("username", "")}),
        "next": request.POST.get("next", ""),
        "sign_in_paused": (
            f"Too many wrong passwords for this username from your address: signing in is paused for "
            f"{minutes} minutes. An administrator can lift the pause sooner in the admin (Axes › Access attempts)."
        ),
    }
    return render(request, "registration/login.html", context, status=429)
