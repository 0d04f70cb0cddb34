from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import Invite, Role


def id_field(*, required: bool = True) -> forms.IntegerField:
    """A row's number, as a form names it: anything else, or a number past a database id, is refused."""
    return forms.IntegerField(min_value=1, max_value=2**63 - 1, required=required)


class RoleForm(forms.Form):
    user = id_field()
    role = forms.ChoiceField(choices=Role.choices)


class ActiveForm(forms.Form):
    user = id_field()
    active = forms.BooleanField(required=False)


class InviteForm(forms.Form):
    note = forms.CharField(
        max_length=Invite._meta.get_field("note").max_length,
        label="Who is it for?",
        help_text="Shown on the people page until the link is used, e.g. “Dana, design team”.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class InviteRevokeForm(forms.Form):
    invite = id_field()


class InviteAcceptForm(UserCreationForm):
    """Django's own new-account form: a free username and a password that passes the password validators."""


class AuditPageForm(forms.Form):
    before = id_field(required=False)
