from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import Invite, Role

ID_FIELD = {"min_value": 1, "max_value": 2**63 - 1}


class RoleForm(forms.Form):
    user = forms.IntegerField(**ID_FIELD)
    role = forms.ChoiceField(choices=Role.choices)


class ActiveForm(forms.Form):
    user = forms.IntegerField(**ID_FIELD)
    active = forms.BooleanField(required=False)


class InviteForm(forms.Form):
    note = forms.CharField(
        max_length=Invite._meta.get_field("note").max_length,
        label="Who is it for?",
        help_text="Shown on the people page until the link is used, e.g. “Dana, design team”.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class InviteRevokeForm(forms.Form):
    invite = forms.IntegerField(**ID_FIELD)


class InviteAcceptForm(UserCreationForm):
    """Django's own new-account form: a free username and a password that passes the password validators."""


class AuditPageForm(forms.Form):
    before = forms.IntegerField(required=False, **ID_FIELD)
