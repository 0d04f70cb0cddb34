"""The gallery, detail pages and share links in a real Chromium."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from generations.models import Generation
from tests.conftest import finish, make_generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_finished_generations(count: int) -> list[Generation]:
    now = timezone.now()
    generations = []
    for index in range(count):
        generation = make_generation(
            prompt=f"Tile {index} of a lighthouse" if index % 10 == 0 else f"Tile {index}",
            width=640,
            height=640,
            seed=index % 3,
        )
        finish(generation)
        Generation.objects.filter(pk=generation.pk).update(created_at=now - timedelta(minutes=index))
        generations.append(generation)
    return generations


def test_scrolling_the_gallery_loads_older_images(page: Page, demo_mode):
    make_finished_generations(60)
    page.goto("/gallery/")
    tiles = page.locator(".tile")
    expect(tiles).to_have_count(48)

    page.locator(".gallery-next").scroll_into_view_if_needed()

    expect(tiles).to_have_count(60)
    expect(page.locator(".gallery-next")).to_have_count(0)
    expect(tiles.last).to_contain_text("Tile 59")


def test_searching_the_gallery_narrows_it_and_keeps_the_url_shareable(page: Page, demo_mode):
    make_finished_generations(30)
    page.goto("/gallery/")
    page.get_by_label("Search").fill("lighthouse")
    page.get_by_role("button", name="Show").click()

    expect(page.locator(".tile")).to_have_count(3)
    assert "q=lighthouse" in page.url


def test_a_share_link_opens_for_a_colleague_in_a_fresh_session(page: Page, browser: Browser, demo_mode):
    make_finished_generations(1)
    page.goto("/gallery/")
    page.locator(".tile a").first.click()
    expect(page.get_by_role("heading", name="Copy as code")).to_be_visible()
    share_url = page.url

    colleague = browser.new_context()
    try:
        other = colleague.new_page()
        other.goto(share_url)
        expect(other.locator(".card-large img")).to_be_visible()
        assert other.locator(".card-large img").evaluate("img => img.naturalWidth") > 0
        expect(other.locator(".card-large")).to_contain_text("Tile 0 of a lighthouse")
    finally:
        colleague.close()


def test_the_downloaded_png_carries_its_parameters(page: Page, demo_mode):
    generation = make_finished_generations(1)[0]
    page.goto(generation.get_absolute_url())

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()

    download = download_info.value
    assert download.suggested_filename == f"zimage-{generation.public_id}-0.png"
    image = Image.open(download.path())
    image.load()
    assert json.loads(image.text["parameters"])["prompt"] == "Tile 0 of a lighthouse"


def test_compare_shows_the_picked_images_side_by_side(page: Page, demo_mode):
    make_finished_generations(3)
    page.goto("/gallery/")
    checkboxes = page.get_by_label("Compare")
    checkboxes.nth(0).check()
    checkboxes.nth(1).check()
    page.get_by_role("button", name="Compare selected").click()

    expect(page.locator(".compare-media img")).to_have_count(2)
    expect(page.locator("tr.differs th")).to_contain_text(["Prompt", "Seed"])
