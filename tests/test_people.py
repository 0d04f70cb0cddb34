"""Roles, the people page, deactivation, invite links and the audit trail."""

from __future__ import annotations

import threading
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, AuditKind, Invite, Person, Role, role_of
from accounts.services import invite_create
from generations.models import Generation, GenerationStatus
from tests.factories import FORM, PASSWORD, make_generation, make_token, make_user

pytestmark = pytest.mark.django_db

MEMBERS_MIGRATION = "accounts.migrations.0002_existing_accounts_are_members"


@pytest.fixture
def deployed(settings):
    settings.REQUIRE_LOGIN = True


@pytest.fixture
def staff():
    return make_user("sam", role=Role.STAFF)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_call(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}", "content_type": "application/json"}


def test_a_viewer_is_refused_everything_that_spends_with_a_clear_403(deployed, demo_mode):
    viewer = make_user("vic", role=Role.VIEWER)
    generation = make_generation(status=GenerationStatus.FAILED, error_code="provider_unavailable")
    client = signed_in(viewer)

    home = client.get(reverse("generations:home")).text
    assert 'id="generation-form"' not in home
    assert "Ask a staff member for the member role" in home
    for url in (
        reverse("generations:new"),
        reverse("generations:batch-new"),
        reverse("generations:retry", args=[generation.public_id]),
        reverse("generations:new-seed", args=[generation.public_id]),
        reverse("generations:api-tokens"),
    ):
        refused = client.post(url, FORM | {"prompts": "A fox", "name": "script"})
        assert refused.status_code == 403, url
        assert "Ask a staff member for the member role" in refused.text
    assert Generation.objects.count() == 1


def test_a_viewers_api_token_gets_an_openai_shaped_403(served, deployed):
    bearer = {"Authorization": f"Bearer {make_token(make_user('vic', role=Role.VIEWER))}"}

    answer = served.post(reverse("api-image-generations"), json={}, headers=bearer)

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"
    assert "member role" in answer.json()["error"]["message"]
    assert served.get(reverse("api-models"), headers=bearer).status_code == 403


def test_members_and_staff_generate_and_an_open_instance_lets_anyone(
    client, deployed, demo_mode, settings, staff
):
    signed_in(make_user("mia")).post(reverse("generations:new"), FORM)
    signed_in(staff).post(reverse("generations:new"), FORM)
    assert Generation.objects.count() == 2

    settings.REQUIRE_LOGIN = False
    client.post(reverse("generations:new"), FORM)
    signed_in(make_user("vic", role=Role.VIEWER)).post(reverse("generations:new"), FORM)
    assert Generation.objects.count() == 4


def test_accounts_made_before_roles_keep_generating():
    older = get_user_model().objects.create_user("old-timer")
    import_module(MEMBERS_MIGRATION).existing_accounts_are_members(apps, None)

    assert role_of(get_user_model().objects.get(pk=older.pk)) == Role.MEMBER


def test_the_people_page_is_for_staff_only(client, staff, deployed):
    assert client.get(reverse("accounts:people")).status_code == 302
    assert signed_in(make_user("mia")).get(reverse("accounts:people")).status_code == 403
    assert signed_in(staff).get(reverse("accounts:people")).status_code == 200


def test_the_people_page_shows_roles_sign_in_ways_images_and_tokens(staff):
    mia = make_user("mia", email="mia@example.com")
    make_token(mia)
    make_token(mia, name="second")
    make_generation(user=mia, status=GenerationStatus.SUCCEEDED)
    last_month = make_generation(user=mia, status=GenerationStatus.SUCCEEDED)
    Generation.objects.filter(pk=last_month.pk).update(created_at=timezone.now() - timedelta(days=40))

    page = signed_in(staff).get(reverse("accounts:people")).text

    row = page.split('<th scope="row">mia')[1].split("</tr>")[0]
    assert "mia@example.com" in row
    assert '<option value="member" selected>' in row
    assert "<td>password</td>" in row
    assert "<td>1</td>" in row, "images this month"
    assert "<td>2</td>" in row, "API tokens"
    assert "Deactivate" in row


def test_staff_change_a_role_and_the_trail_says_so(staff):
    mia = make_user("mia")

    signed_in(staff).post(reverse("accounts:person-role"), {"user": mia.pk, "role": "viewer"})

    assert role_of(get_user_model().objects.get(pk=mia.pk)) == Role.VIEWER
    event = AuditEvent.objects.filter(kind=AuditKind.ROLE_CHANGED, subject=mia).latest("at")
    assert (event.actor, event.detail, event.ip_address) == (staff, "Member → Viewer", "127.0.0.1")


def test_nobody_changes_their_own_role_or_deactivates_themselves(staff):
    client = signed_in(staff)

    client.post(reverse("accounts:person-role"), {"user": staff.pk, "role": "viewer"})
    page = client.post(reverse("accounts:person-active"), {"user": staff.pk}, follow=True).text

    staff.refresh_from_db()
    assert staff.is_staff
    assert staff.is_active
    assert "You cannot deactivate yourself" in page


def test_a_deactivated_persons_token_answers_401_at_once_and_their_session_ends(
    client, staff, deployed, demo_mode
):
    mia = make_user("mia")
    token = make_token(mia)
    mias_browser = signed_in(mia)
    generation = make_generation(user=mia)
    assert client.get(reverse("api-models"), **api_call(token)).status_code == 200

    signed_in(staff).post(reverse("accounts:person-active"), {"user": mia.pk})

    answer = client.get(reverse("api-models"), **api_call(token))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"
    assert mias_browser.post(reverse("generations:new"), FORM).status_code == 302, "sent to sign in"
    assert Generation.objects.filter(pk=generation.pk).exists(), "their images stay"
    assert AuditEvent.objects.filter(kind=AuditKind.DEACTIVATED, subject=mia, actor=staff).exists()


def test_an_invite_link_is_shown_once_uncached_and_opens_one_account(client, staff, deployed, demo_mode):
    made = signed_in(staff).post(reverse("accounts:invite-new"), {"note": "Dana, design", "role": "member"})

    assert "no-store" in made["Cache-Control"]
    link = made.text.split('<code id="invite-link">')[1].split("</code>")[0]
    path = link.removeprefix("http://testserver")
    assert Invite.objects.get().token_hash not in link
    assert link not in signed_in(staff).get(reverse("accounts:people")).text
    page = client.get(path)
    assert "no-store" in page["Cache-Control"]
    assert "sam invited you as a member" in page.text

    joined = client.post(path, {"username": "dana", "password1": PASSWORD, "password2": PASSWORD})

    assert joined.status_code == 302
    dana = get_user_model().objects.get(username="dana")
    assert role_of(dana) == Role.MEMBER
    assert Person.objects.get(user=dana).invited_by == staff
    assert client.post(reverse("generations:new"), FORM).status_code == 302
    assert Generation.objects.get().user == dana
    assert Client().get(path).status_code == 410, "used"
    assert AuditEvent.objects.filter(kind=AuditKind.INVITE_ACCEPTED, subject=dana).exists()


def test_an_expired_or_revoked_invite_opens_nothing(client, staff):
    expired, expired_token = invite_create(note="late", role=Role.MEMBER, created_by=staff, ip=None)
    Invite.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    revoked, revoked_token = invite_create(note="revoked", role=Role.MEMBER, created_by=staff, ip=None)
    signed_in(staff).post(reverse("accounts:invite-revoke"), {"invite": revoked.pk})

    for token in (expired_token, revoked_token, "no-such-token"):
        answer = client.post(
            reverse("accounts:invite-accept", args=[token]),
            {"username": "dana", "password1": PASSWORD, "password2": PASSWORD},
        )
        assert answer.status_code == 410
        assert "This invite link no longer works" in answer.text
    assert not get_user_model().objects.filter(username="dana").exists()


@pytest.mark.django_db(transaction=True)
def test_an_invite_opened_at_once_by_four_makes_one_account(staff):
    _invite, token = invite_create(note="Dana", role=Role.MEMBER, created_by=staff, ip=None)
    url = reverse("accounts:invite-accept", args=[token])
    start = threading.Barrier(4)
    answers = []

    def accept(username: str) -> None:
        client = Client()
        start.wait()
        answers.append(client.post(url, {"username": username, "password1": PASSWORD, "password2": PASSWORD}))

    threads = [threading.Thread(target=accept, args=[f"dana{index}"]) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer.status_code for answer in answers) == [302, 410, 410, 410]
    assert get_user_model().objects.filter(username__startswith="dana").count() == 1


def test_the_audit_trail_lists_what_happened_for_staff(client, staff):
    make_user("mia")
    client.post(reverse("login"), {"username": "mia", "password": "wrong"})
    client.post(reverse("login"), {"username": "mia", "password": PASSWORD})

    page = signed_in(staff).get(reverse("accounts:audit")).text

    assert page.index("Signed in") < page.index("Sign-in refused")
    assert "Please enter a correct username and password" in page
    assert signed_in(make_user("viv")).get(reverse("accounts:audit")).status_code == 403
