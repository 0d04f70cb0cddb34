"""axe-core on every page and card state, light and dark, desktop and phone: no serious or critical violations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from generations.models import Generation, GenerationStatus
from generations.services.tokens import api_token_create
from tests.factories import finish, make_generation
from tests.test_browser import submit_a_size_too_small

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

type ColorScheme = Literal["light", "dark"]

SERIOUS = ("serious", "critical")
DESKTOP = {"viewport": {"width": 1440, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PASSWORD = "a-long-test-password"


@pytest.fixture
def pages(transactional_db, demo_mode) -> dict[str, str]:
    """The URL of every page to check, with generations in every state on the home page. No worker runs (the
    server alone), so that the queued and running cards stay as they are."""
    done = finish(
        make_generation(
            prompt="A cute orange tabby cat basking in sunlight on a windowsill", prompt_extend=True
        )
    )
    other = finish(make_generation(prompt="A lighthouse at dusk", width=1360, height=768, seed=7))
    refused = make_generation(
        prompt="A refused prompt",
        status=GenerationStatus.FAILED,
        error_code="provider_rejected",
        error_message="The image provider refused this request: Input data may contain inappropriate content.",
    )
    make_generation(
        prompt="A prompt the provider could not make",
        status=GenerationStatus.FAILED,
        error_code="provider_unavailable",
        error_message="The image provider is having trouble right now. Retried 3 times, then out of time.",
    )
    make_generation(
        prompt="A cancelled prompt", status=GenerationStatus.CANCELLED, error_message="Cancelled."
    )
    make_generation(
        prompt="An interrupted prompt", status=GenerationStatus.INTERRUPTED, error_message="Stopped."
    )
    make_generation(prompt="A running prompt", status=GenerationStatus.RUNNING, started_at=timezone.now())
    queued = make_generation(prompt="A queued prompt")
    deleted = finish(make_generation(prompt="A deleted prompt"))
    Generation.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    user = User.objects.create_user("alice", password=PASSWORD)
    api_token_create(user=user, name="batch script")
    return {
        "home": "/",
        "gallery": "/gallery/",
        "detail": done.get_absolute_url(),
        "detail, live": queued.get_absolute_url(),
        "detail, failed": refused.get_absolute_url(),
        "detail, deleted": deleted.get_absolute_url(),
        "compare": f"/compare/?id={done.public_id}&id={other.public_id}&id={refused.public_id}",
        "usage": "/usage/",
        "sign-in": "/accounts/login/",
    }


@pytest.fixture(params=["light", "dark"])
def color_scheme(request) -> ColorScheme:
    return request.param


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def axe_page(request, browser: Browser, asgi_server: str, color_scheme: ColorScheme) -> Iterator[Page]:
    context = browser.new_context(base_url=asgi_server, color_scheme=color_scheme, **request.param)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def test_no_page_has_serious_or_critical_accessibility_violations(pages, axe_page: Page):
    found = {}
    for name, url in pages.items():
        axe_page.goto(url)
        found[name] = serious_violations(axe_page)

    submit_a_size_too_small(axe_page)
    expect(axe_page.get_by_label("Custom size", exact=True)).to_be_focused()
    found["home, form error"] = serious_violations(axe_page)

    axe_page.goto("/accounts/login/?next=/settings/tokens/")
    axe_page.get_by_label("Username").fill("alice")
    axe_page.get_by_label("Password").fill(PASSWORD)
    axe_page.get_by_role("button", name="Sign in").click()
    expect(axe_page.get_by_role("heading", name="API tokens")).to_be_visible()
    found["tokens"] = serious_violations(axe_page)

    assert found == {name: [] for name in found}
