"""Phones, tablets and keyboards: the share page, generating, focus, scrolling and compare, in a real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from generations.models import Generation
from tests.conftest import DESKTOP, PHONE, TABLET, overflows_sideways
from tests.factories import finish, make_generation
from tests.test_browser import submit_a_size_too_small

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Generations are finished before the worker starts (list these fixtures before `open_page`), so that its
# sweep for abandoned runs cannot catch one half-way.
@pytest.fixture
def shared(transactional_db, demo_mode) -> Generation:
    """A finished generation with prompt extend: a revised prompt and reasoning above the page's code."""
    return finish(
        make_generation(
            prompt="A cute orange tabby cat basking in sunlight on a windowsill", prompt_extend=True
        )
    )


@pytest.fixture
def picks(transactional_db, demo_mode) -> list[Generation]:
    return [
        finish(make_generation(prompt=f"Tile {index} of a lighthouse", width=640, height=640, seed=index))
        for index in range(5)
    ]


def box(locator) -> dict:
    value = locator.bounding_box()
    assert value is not None, "the element is not rendered"
    return value


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["phone", "tablet"])
def test_it_shows_a_share_link_at_full_width_with_its_actions_before_the_reasoning(
    shared, open_page, viewport
):
    page = open_page(viewport)
    page.goto(shared.get_absolute_url())

    image = page.locator(".card-large .card-media img")
    expect(image).to_be_visible()
    assert box(image)["width"] >= 0.9 * viewport["width"]
    assert not overflows_sideways(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(shared.prompt)
    reasoning_top = box(page.locator(".reasoning"))["y"]
    for action in (
        page.get_by_role("link", name="Copy link"),
        page.get_by_role("link", name="Use settings"),
        page.get_by_role("link", name="Download"),
        page.get_by_role("button", name="Favourite"),
        page.get_by_role("button", name="More actions"),
    ):
        assert box(action)["y"] + box(action)["height"] <= reasoning_top


def test_it_shows_a_share_links_actions_above_the_fold_on_a_desktop(shared, open_page):
    page = open_page(DESKTOP)
    page.goto(shared.get_absolute_url())

    for action in (
        page.get_by_role("link", name="Copy link"),
        page.get_by_role("link", name="Use settings"),
        page.get_by_role("link", name="Download"),
        page.get_by_role("button", name="Favourite"),
        page.get_by_role("button", name="More actions"),
    ):
        assert box(action)["y"] + box(action)["height"] <= DESKTOP["height"]
    page.get_by_role("button", name="More actions").click()
    new_seed = page.get_by_role("button", name="New seed")
    expect(new_seed).to_be_visible()
    assert box(new_seed)["y"] + box(new_seed)["height"] <= DESKTOP["height"]


def test_on_a_phone_a_new_card_comes_into_view_and_says_how_it_is_doing(open_page, demo_mode):
    page = open_page(PHONE)
    page.goto("/")
    page.get_by_label("Prompt", exact=True).fill("A red bicycle")
    generate = page.get_by_role("button", name="Generate")
    generate.tap()

    card = page.locator("#results article").first
    expect(card).to_be_in_viewport(ratio=0.5)
    expect(card.locator("[data-card-status]")).to_be_focused()
    expect(card.locator("img")).to_be_visible()
    expect(card.locator("[data-card-status]")).to_be_focused()
    expect(page.locator("[data-announcer]")).to_have_text("Done: A red bicycle")
    expect(generate).to_have_text("Generate"), "no note that outlives what it said"


def test_ctrl_enter_keeps_focus_in_the_prompt_for_the_next_tweak(open_page, demo_mode):
    page = open_page(DESKTOP)
    page.goto("/")
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("A red bicycle")
    prompt.press("Control+Enter")

    expect(page.locator("#results article")).to_have_count(1)
    expect(prompt).to_be_focused()


def test_after_a_form_error_focus_goes_to_the_field_to_mend(open_page, demo_mode):
    page = open_page(DESKTOP)
    submit_a_size_too_small(page)

    expect(page.get_by_label("Custom size", exact=True)).to_be_focused()
    expect(page.locator("#results article")).to_have_count(0)


def test_favouriting_keeps_focus_on_the_button(shared, open_page):
    page = open_page(DESKTOP)
    page.goto(shared.get_absolute_url())
    page.get_by_role("button", name="Favourite").click()

    button = page.locator(f"#favourite-{shared.public_id}-detail")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_be_focused()
    expect(page.locator(".htmx-settling")).to_have_count(0)  # htmx takes over the new form once it settles
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button).to_be_focused()


def test_the_first_tab_stop_skips_to_the_content(open_page, demo_mode):
    page = open_page(DESKTOP)
    page.goto("/gallery/")
    page.keyboard.press("Tab")

    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


@pytest.mark.parametrize(("viewport", "shown"), [(DESKTOP, True), (PHONE, False)], ids=["desktop", "phone"])
def test_the_ctrl_enter_hint_shows_only_where_there_is_a_keyboard(open_page, demo_mode, viewport, shown):
    page = open_page(viewport)
    page.goto("/")

    hint = page.locator(".shortcut-hint")
    if shown:
        expect(hint).to_be_visible()
    else:
        expect(hint).to_be_hidden()


def test_on_a_phone_the_code_can_be_scrolled_from_the_keyboard(shared, open_page):
    page = open_page(PHONE)
    page.goto(shared.get_absolute_url())
    page.get_by_role("button", name="Copy curl").focus()
    page.keyboard.press("Tab")

    code = page.get_by_role("region", name="curl")
    expect(code).to_be_focused()
    assert code.evaluate("element => element.scrollWidth > element.clientWidth")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("element => element.scrollLeft > 0", arg=code.element_handle())


def test_on_a_phone_the_usage_tables_can_be_scrolled_from_the_keyboard(shared, open_page):
    page = open_page(PHONE)
    page.goto("/usage/")

    table = page.get_by_role("region", name="Per day", exact=True)
    table.focus()
    expect(table).to_be_focused()
    assert table.evaluate("element => element.scrollWidth > element.clientWidth")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("element => element.scrollLeft > 0", arg=table.element_handle())
    assert not overflows_sideways(page)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_compare_boxes_are_big_enough_to_hit_and_named_after_their_prompts(picks, open_page, viewport):
    page = open_page(viewport)
    page.goto("/gallery/")

    for index in range(5):
        pick = page.get_by_role("checkbox", name=f"Select “Tile {index} of a lighthouse”")
        assert box(pick)["width"] >= 24
        assert box(pick)["height"] >= 24


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_compare_values_sit_under_their_images(picks, open_page, viewport):
    page = open_page(viewport)
    page.goto("/compare/?" + "&".join(f"id={generation.public_id}" for generation in picks[:4]))

    images = page.locator(".compare-media img")
    seeds = page.get_by_role("row", name=re.compile("^Seed")).locator("td")
    expect(images).to_have_count(4)
    expect(seeds).to_have_text(["0", "1", "2", "3"])
    for index in range(4):
        image, seed = box(images.nth(index)), box(seeds.nth(index))
        assert seed["x"] <= image["x"]
        assert image["x"] + image["width"] <= seed["x"] + seed["width"]
    assert not overflows_sideways(page)
