"""Signing in with the identity provider, the people page and an invite link, in Chromium at 1440x900 and 390x844,
with axe-core finding nothing serious or critical on the new pages. Screenshots land in test-results/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from accounts.models import Role, role_of
from tests.conftest import DESKTOP, PHONE, follow_main_link, open_main_menu
from tests.factories import PASSWORD, make_generation, make_token, make_user
from tests.test_browser_accessibility import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-results"


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def viewport(request) -> dict:
    return request.param


def screenshot(page: Page, name: str, viewport: dict) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-{viewport['width']}.png", full_page=True)


def sign_in_with_password(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).not_to_have_url(re.compile("/accounts/login/"))
    open_main_menu(page)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.keyboard.press("Escape")


def test_the_identity_providers_button_signs_a_person_in(open_page, sso, viewport):
    sso.put_user("dana", email="dana@example.com", email_verified=True, groups=["artists"], name="Dana")
    page = open_page(viewport)
    page.goto("/accounts/login/")
    button = page.get_by_role("button", name="Sign in with Test IdP")
    expect(button).to_be_visible()
    assert button.bounding_box()["y"] < page.get_by_label("Username").bounding_box()["y"], (
        "the button comes first"
    )
    assert serious_violations(page) == []
    screenshot(page, "sign-in-sso", viewport)

    button.click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("User", exact=True).fill("dana")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Make an image")).to_be_visible()
    expect(page.locator(".account")).to_contain_text("dana")
    assert role_of(get_user_model().objects.get(email="dana@example.com")) == Role.MEMBER


def test_staff_manage_people_on_the_people_page(open_page, viewport):
    make_user("sam", role=Role.STAFF)
    mia = make_user("mia", email="mia@example.com")
    make_user("vic", role=Role.VIEWER)
    make_token(mia)
    make_generation(user=mia, status="succeeded")
    page = open_page(viewport)
    sign_in_with_password(page, "sam")

    follow_main_link(page, "People")
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "people", viewport)

    page.get_by_label("Role of vic").select_option("member")
    page.get_by_role("row", name=re.compile("^vic")).get_by_role("button", name="Change").click()
    expect(page.get_by_text("vic is now member.")).to_be_visible()
    page.get_by_role("button", name="Deactivate mia").click()
    expect(page.get_by_text("mia was deactivated")).to_be_visible()
    expect(page.get_by_role("button", name="Reactivate mia")).to_be_visible()

    page.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("cell", name="Deactivated", exact=True)).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "audit", viewport)


def test_an_invite_link_makes_an_account(open_page, viewport, demo_mode, settings):
    settings.REQUIRE_LOGIN = True
    make_user("sam", role=Role.STAFF)
    page = open_page(viewport)
    sign_in_with_password(page, "sam")

    page.goto("/people/")
    page.get_by_role("link", name="Invite someone").first.click()
    page.get_by_label("Who is it for?").fill("Dana, design team")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Make an invite link").click()
    link = page.locator("#invite-link").inner_text()
    assert serious_violations(page) == []
    screenshot(page, "invite-made", viewport)

    invitee = open_page(viewport)
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Join Z-Image Playground")).to_be_visible()
    assert serious_violations(invitee) == []
    screenshot(invitee, "invite-accept", viewport)
    invitee.get_by_label("Username").fill("dana")
    invitee.get_by_label("Password", exact=True).fill(PASSWORD)
    invitee.get_by_label("Password confirmation").fill(PASSWORD)
    invitee.get_by_role("button", name="Make my account").click()

    expect(invitee.get_by_text("Welcome, dana. You are signed in.")).to_be_visible()
    expect(invitee.get_by_text("Ask a staff member for the member role")).to_be_visible()
    screenshot(invitee, "viewer-home", viewport)
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="This invite link no longer works")).to_be_visible()
