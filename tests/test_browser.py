"""The playground in a real Chromium, driven by Playwright, against a live server and the fake provider."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_generates_an_image_with_the_revised_prompt(page: Page, use_fake_provider):
    page.goto("/")
    page.get_by_label("Prompt", exact=True).fill(
        "A cute orange tabby cat basking in sunlight on a windowsill"
    )
    page.get_by_label("Size", exact=True).select_option("1024x1024")
    page.get_by_label("Seed", exact=True).fill("42")
    page.get_by_label("Extend prompt", exact=True).check()
    page.get_by_role("button", name="Generate").click()

    card = page.locator("#results article").first
    expect(card.locator("img")).to_be_visible()
    expect(card).to_contain_text("Revised prompt")
    expect(card).to_contain_text("42")
    assert card.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    assert use_fake_provider.requests[-1]["parameters"] == {"prompt_extend": True, "seed": 42}


def test_ctrl_enter_submits_and_shows_a_pending_card_with_elapsed_time(page: Page, use_fake_provider):
    page.goto("/")
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("A slow lighthouse [fault:hold]")
    prompt.press("Control+Enter")

    card = page.locator("#results article").first
    expect(card).to_contain_text("Generating")
    expect(card.locator(".elapsed")).to_have_text(re.compile(r"^[1-9]\d*\.\d s$"))
    use_fake_provider.release()
    expect(card.locator("img")).to_be_visible()


def test_a_failed_generation_can_be_retried(page: Page, use_fake_provider):
    page.goto("/")
    # Two 503s use up the two attempts; the third request, the person's retry, succeeds.
    page.get_by_label("Prompt", exact=True).fill("A lighthouse [fault:flaky:503:2]")
    page.get_by_role("button", name="Generate").click()

    card = page.locator("#results article").first
    expect(card).to_contain_text("having trouble right now. Retry in a minute. Retried once without success.")
    card.get_by_role("button", name="Retry").click()

    expect(page.locator("#results article").first.locator("img")).to_be_visible()
    expect(page.locator("#results article")).to_have_count(2)


def submit_a_size_too_small(page: Page) -> None:
    page.goto("/")
    page.get_by_label("Prompt", exact=True).fill("A tiny image")
    page.get_by_label("Size", exact=True).select_option("custom")
    page.get_by_label("Custom size", exact=True).fill("100x100")
    page.get_by_role("button", name="Generate").click()


def test_bad_input_is_explained_next_to_the_field(page: Page, demo_mode):
    submit_a_size_too_small(page)

    expect(page.locator(".field-custom-size .errorlist")).to_contain_text("the model accepts")
    expect(page.locator("#results article")).to_have_count(0)


def test_the_random_button_draws_a_seed_and_use_settings_fills_the_form_in_place(page: Page, demo_mode):
    page.goto("/")
    page.get_by_role("button", name="Random").click()
    assert 0 <= int(page.get_by_label("Seed", exact=True).input_value()) <= 2_147_483_647

    page.get_by_label("Prompt", exact=True).fill("A red bicycle")
    page.get_by_label("Seed", exact=True).fill("1234")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#results article img")).to_be_visible()
    page.get_by_label("Seed", exact=True).fill("")
    page.get_by_label("Prompt", exact=True).fill("")
    page.locator("#results article").first.get_by_role("link", name="Use settings").click()
    expect(page.get_by_label("Seed", exact=True)).to_have_value("1234")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("A red bicycle")
    expect(page.get_by_label("Prompt", exact=True)).to_be_focused()
    assert page.url.endswith("/"), "filled in place, without a reload"


def test_every_page_says_when_it_is_the_offline_demo(page: Page, demo_mode):
    page.goto("/")
    expect(page.get_by_role("note")).to_contain_text("Offline demo mode")


def test_an_unreachable_playground_is_explained_and_the_prompt_kept(page: Page, demo_mode):
    page.goto("/")
    page.route("**/generate/", lambda route: route.abort())
    page.get_by_label("Prompt", exact=True).fill("A red bicycle")
    page.get_by_role("button", name="Generate").click()

    expect(page.get_by_role("alert")).to_contain_text("Could not reach the playground")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("A red bicycle")


def test_nothing_on_the_pages_breaks_the_content_security_policy(page: Page, use_fake_provider):
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto("/")
    page.get_by_label("Prompt", exact=True).fill("A fox")
    page.get_by_label("Extend prompt").check()
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#results article img")).to_be_visible()
    page.goto("/gallery/")
    page.locator(".tile a").first.click()
    open_details_from_the_lightbox(page)
    expect(page.get_by_role("heading", name="Copy as code")).to_be_visible()

    assert violations == []


def open_details_from_the_lightbox(page: Page) -> None:
    """The lightbox's "Details" (in its toolbar's More menu) opens the share page."""
    lightbox = page.locator("#lightbox")
    lightbox.get_by_role("button", name="More actions").click()
    lightbox.get_by_role("link", name="Details").click()


def test_after_a_fix_the_old_error_goes_and_the_prompt_stays_for_the_next_tweak(page: Page, demo_mode):
    submit_a_size_too_small(page)
    expect(page.locator(".errorlist")).to_have_count(1)

    page.get_by_label("Custom size", exact=True).fill("640x640")
    page.get_by_role("button", name="Generate").click()

    expect(page.locator("#results article")).to_have_count(1)
    expect(page.locator(".errorlist")).to_have_count(0)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("A tiny image")


@pytest.mark.parametrize("worker_concurrency", [1])
def test_a_queued_image_shows_its_place_in_line_and_cancelling_it_costs_nothing(
    page: Page, use_fake_provider, settings
):
    settings.PROVIDER_MAX_CONCURRENT = 1  # an account of one at a time: the others wait their turns
    page.goto("/")
    prompt = page.get_by_label("Prompt", exact=True)
    for text in ("First, slow [fault:hold]", "Second", "Third"):
        prompt.fill(text)
        page.get_by_role("button", name="Generate").click()
        expect(page.locator("#results article").first).to_contain_text(text)
    third = page.locator("#results article").first

    expect(third).to_contain_text("Queued (1 ahead of you)")
    third.get_by_role("button", name="Cancel").click()

    expect(third).to_contain_text(
        "Cancelled. Cancelled before it was sent to the provider: nothing was billed."
    )
    use_fake_provider.release()
    expect(page.locator("#results article").nth(1).locator("img")).to_be_visible()
    assert [request["prompt"] for request in use_fake_provider.requests] == [
        "First, slow [fault:hold]",
        "Second",
    ]
