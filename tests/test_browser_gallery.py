"""The gallery, detail pages and share links in a real Chromium."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image
from PIL.PngImagePlugin import PngImageFile
from playwright.sync_api import Browser, Page, expect

from generations.models import Generation, GenerationStatus
from tests.conftest import DESKTOP, PHONE
from tests.factories import create_generation, finish, make_generation, make_many_tiles
from tests.test_browser import open_details_from_the_lightbox

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


# Rows are made before the worker starts (list these fixtures before `page` or `open_page`), so that its sweep
# for abandoned runs cannot catch one half-way (an interrupted row would leave the gallery).
@pytest.fixture
def three_finished(transactional_db, demo_mode) -> list[Generation]:
    return make_finished_generations(3)


@pytest.fixture
def sixty_finished(transactional_db, demo_mode) -> list[Generation]:
    return make_finished_generations(60)


def test_scrolling_the_gallery_loads_older_images(sixty_finished, page: Page):
    page.goto("/gallery/")
    tiles = page.locator(".tile")
    expect(tiles).to_have_count(48)

    page.locator(".gallery-next").scroll_into_view_if_needed()

    expect(tiles).to_have_count(60)
    expect(page.locator(".gallery-next")).to_have_count(0)
    expect(tiles.last).to_contain_text("Tile 59")


def test_a_share_link_opens_for_a_colleague_in_a_fresh_session(three_finished, page: Page, browser: Browser):
    page.goto("/gallery/")
    page.locator(".tile a").first.click()
    open_details_from_the_lightbox(page)
    expect(page.get_by_role("heading", name="Copy as code")).to_be_visible()
    share_url = page.url

    colleague = browser.new_context()
    try:
        other = colleague.new_page()
        other.goto(share_url)
        expect(other.locator(".card-large img")).to_be_visible()
        # The picture itself arrives (a busy machine may take a while to decode it): it is not a broken image.
        other.wait_for_function(
            "img => img.complete && img.naturalWidth > 0",
            arg=other.locator(".card-large img").element_handle(),
        )
        expect(other.locator(".card-large")).to_contain_text("Tile 0 of a lighthouse")
    finally:
        colleague.close()


def test_the_downloaded_png_carries_its_parameters(three_finished, page: Page):
    generation = three_finished[0]
    page.goto(generation.get_absolute_url())

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()

    download = download_info.value
    assert download.suggested_filename == f"zimage-{generation.public_id}-0.png"
    image = Image.open(download.path())
    assert isinstance(image, PngImageFile)
    image.load()
    assert json.loads(image.text["parameters"])["prompt"] == "Tile 0 of a lighthouse"


def test_compare_shows_the_picked_images_side_by_side(three_finished, page: Page):
    page.goto("/gallery/")
    checkboxes = page.get_by_label("Select")
    checkboxes.nth(0).check()
    checkboxes.nth(1).check()
    page.get_by_role("button", name="Compare").click()

    expect(page.locator(".compare-media img")).to_have_count(2)
    expect(page.locator("tr.differs th")).to_contain_text(["Prompt", "Seed"])


VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture
def fifty_tiles(transactional_db, demo_mode) -> list[Generation]:
    return make_many_tiles(50)


@pytest.fixture
def four_hundred_tiles(transactional_db, demo_mode) -> list[Generation]:
    return make_many_tiles(400)


def load_tiles(page: Page, count: int) -> None:
    """Scroll down until `count` tiles are loaded, a page at a time, as a reader does."""
    tiles = page.locator(".tile")
    while tiles.count() < count:
        loaded = tiles.count()
        page.locator(".gallery-next").scroll_into_view_if_needed()
        expect(tiles).not_to_have_count(loaded)


def place(page: Page) -> dict:
    """Where the reader is: tiles loaded, the scroll offset, the tile at the top of the view and its offset."""
    return page.evaluate(
        """() => {
            const tiles = [...document.querySelectorAll(".tile")];
            const top = tiles.find((tile) => tile.getBoundingClientRect().bottom > 0);
            return {tiles: tiles.length, scroll_y: Math.round(window.scrollY), top: top.id,
                    top_offset: Math.round(top.getBoundingClientRect().top)};
        }"""
    )


def settle_place(page: Page) -> dict:
    """The place, once the page has recorded it in its history entry (it does so when scrolling stops)."""
    page.wait_for_function(
        """() => {
            const tiles = [...document.querySelectorAll(".tile")];
            const top = tiles.find((tile) => tile.getBoundingClientRect().bottom > 0);
            return history.state && history.state.anchor === top.id;
        }"""
    )
    return place(page)


def a_tile_in_full_view(page: Page):
    """A tile's link that needs no scrolling to click (clicking scrolls a tile cut by the edge into view)."""
    tile_id = page.evaluate(
        """() => [...document.querySelectorAll(".tile")].find((tile) => {
            const box = tile.getBoundingClientRect();
            return box.top >= 0 && box.bottom <= innerHeight;
        }).id"""
    )
    return page.locator(f"#{tile_id} .tile-media")


def tile(page: Page, generation: Generation):
    return page.locator(f"#generation-{generation.public_id}")


def lightbox(page: Page):
    return page.locator("#lightbox")


@VIEWPORTS
def test_it_keeps_the_place_400_tiles_deep_through_the_lightbox_a_reload_and_a_share_page(
    four_hundred_tiles, open_page, viewport
):
    page = open_page(viewport)
    page.goto("/gallery/")
    load_tiles(page, 400)
    tile(page, four_hundred_tiles[300]).scroll_into_view_if_needed()
    page.mouse.wheel(0, -37)
    before = settle_place(page)

    a_tile_in_full_view(page).click()
    expect(lightbox(page)).to_be_visible()
    assert re.search(r"/g/[\w-]+/$", page.url)
    page.go_back()
    expect(lightbox(page)).to_be_hidden()
    after_lightbox = place(page)

    assert "until=" in page.url
    page.reload()
    after_reload = place(page)

    a_tile_in_full_view(page).click()
    expect(lightbox(page)).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Copy as code")).to_be_visible()
    page.go_back()
    expect(page.locator(".tile")).to_have_count(400)
    page.wait_for_load_state()
    after_share_page = place(page)

    print(
        f"\ngallery place at {viewport['width']}x{viewport['height']}: before {before}; after the lightbox and Back "
        f"{after_lightbox}; after a reload {after_reload}; after reloading the share URL and Back {after_share_page}"
    )
    assert before["tiles"] == 400
    assert after_lightbox == before
    assert after_reload == before
    assert after_share_page == before


def test_the_lightbox_steps_by_keys_and_buttons_and_loads_older_pages(fifty_tiles, open_page):
    page = open_page()
    page.goto("/gallery/")
    tile(page, fifty_tiles[46]).locator(".tile-media").click()
    box = lightbox(page)
    expect(box).to_contain_text("Tile 46")

    page.keyboard.press("ArrowRight")
    expect(box).to_contain_text("Tile 47")
    page.keyboard.press("ArrowRight")

    expect(box).to_contain_text("Tile 48")
    expect(page.locator(".tile")).to_have_count(50)
    assert page.url.endswith(fifty_tiles[48].get_absolute_url())
    box.get_by_role("button", name="Previous image").click()
    expect(box).to_contain_text("Tile 47")
    expect(box.locator("[data-lightbox-image]")).to_have_attribute(
        "src", re.compile(re.escape(fifty_tiles[47].image_url) + "$")
    )
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()
    end = page.locator("[data-page-end]").get_attribute("data-page-end")
    expect(page).to_have_url(re.compile(re.escape(f"/gallery/?until={end}") + "$"))
    expect(tile(page, fifty_tiles[47]).locator(".tile-media")).to_be_focused()


def test_on_a_phone_a_swipe_shows_the_next_image(fifty_tiles, open_page):
    page = open_page(PHONE)
    page.goto("/gallery/")
    tile(page, fifty_tiles[1]).locator(".tile-media").click()
    stage = page.locator("[data-lightbox-stage]")

    for kind, x in (("pointerdown", 320), ("pointerup", 60)):
        stage.dispatch_event(kind, {"pointerType": "touch", "clientX": x, "clientY": 300, "bubbles": True})

    expect(lightbox(page)).to_contain_text("Tile 2")
    for kind, x in (("pointerdown", 60), ("pointerup", 320)):
        stage.dispatch_event(kind, {"pointerType": "touch", "clientX": x, "clientY": 300, "bubbles": True})
    expect(lightbox(page)).to_contain_text("Tile 1")


@VIEWPORTS
def test_a_tile_and_the_lightbox_favourite_and_focus_stays_on_the_star(fifty_tiles, open_page, viewport):
    page = open_page(viewport)
    page.goto("/gallery/")
    star = tile(page, fifty_tiles[0]).locator(".tile-star")

    star.click()

    expect(star).to_have_attribute("aria-pressed", "true")
    expect(star).to_be_focused()
    tile(page, fifty_tiles[1]).locator(".tile-media").click()
    favourite = lightbox(page).get_by_role("button", name="Favourite")
    expect(favourite).to_have_attribute("aria-pressed", "false")
    favourite.click()
    expect(favourite).to_have_attribute("aria-pressed", "true")
    expect(favourite).to_be_focused()
    expect(tile(page, fifty_tiles[1]).locator(".tile-star")).to_have_attribute("aria-pressed", "true")
    assert set(Generation.objects.filter(is_favourite=True)) == {fifty_tiles[0], fifty_tiles[1]}


def test_without_javascript_a_tile_is_a_link_and_its_star_asks_on_a_page(fifty_tiles, open_page):
    page = open_page(java_script_enabled=False)
    page.goto("/gallery/?q=tile")

    tile(page, fifty_tiles[2]).locator(".tile-star").click()
    expect(page.get_by_role("heading", name="Add 1 image to favourites?")).to_be_visible()
    page.get_by_role("button", name="Add to favourites").click()

    expect(tile(page, fifty_tiles[2]).locator(".tile-star")).to_have_attribute("aria-pressed", "true")
    assert page.url.endswith("/gallery/?q=tile")
    tile(page, fifty_tiles[2]).locator(".tile-media").click()
    expect(page.get_by_role("heading", name="Copy as code")).to_be_visible()


def test_shift_click_picks_a_range_to_favourite_compare_takes_four_and_back_keeps_the_ticks(
    fifty_tiles, open_page
):
    page = open_page()
    page.goto("/gallery/")
    status = page.locator("#selection-status")
    picks = page.locator(".tile [data-compare-pick]")

    picks.nth(1).click()
    picks.nth(6).click(modifiers=["Shift"])

    expect(page.locator(".tile [data-compare-pick]:checked")).to_have_count(6)
    expect(status).to_contain_text("6 selected. Compare takes up to 4")
    page.locator("#gallery-selection").get_by_role("button", name="Favourite", exact=True).click()
    expect(status).to_have_text("6 images added to favourites.")
    expect(page.locator(".tile-star[aria-pressed=true]")).to_have_count(6)
    expect(page.locator(".tile [data-compare-pick]:checked")).to_have_count(6)
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(status).to_contain_text("untick some first")
    picks.nth(3).click()
    picks.nth(6).click(modifiers=["Shift"])
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.locator(".compare-media img")).to_have_count(2)
    page.go_back()
    expect(page.locator(".tile [data-compare-pick]:checked")).to_have_count(2)
    expect(status).to_have_text("2 selected.")


def sign_in(page: Page, user, base_url: str) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )


@pytest.fixture
def mixed_owners(transactional_db, demo_mode, django_user_model) -> dict:
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    tiles = make_many_tiles(4)
    Generation.objects.filter(pk__in=[g.pk for g in tiles[:3]]).update(user=alice)
    Generation.objects.filter(pk=tiles[1].pk).update(is_favourite=True)
    Generation.objects.filter(pk=tiles[3].pk).update(user=bob)
    return {"alice": alice, "tiles": tiles}


@VIEWPORTS
def test_deleting_picked_tiles_asks_first_keeps_others_work_and_removes_them_in_place(
    mixed_owners, open_page, playground, viewport
):
    page = open_page(viewport)
    sign_in(page, mixed_owners["alice"], playground)
    page.goto("/gallery/")
    picks = page.locator(".tile [data-compare-pick]")
    picks.nth(0).click()
    picks.nth(3).click(modifiers=["Shift"])

    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog", name="Delete 3 images?")
    expect(dialog).to_contain_text("1 of the images you picked is not yours")
    dialog.get_by_role("button", name="Delete 3").click()
    expect(dialog).to_contain_text("tick the box to delete them anyway")
    assert Generation.objects.live().count() == 4
    dialog.get_by_label("Yes, delete the favourites among them too").check()
    dialog.get_by_role("button", name="Delete 3").click()

    expect(dialog).to_be_hidden()
    expect(page.locator(".tile")).to_have_count(1)
    expect(page.locator("#selection-status")).to_have_text("3 images deleted; their share links now say so.")
    assert [g.prompt for g in Generation.objects.live()] == ["Tile 3"]


@pytest.fixture
def gallery_of_many_kinds(transactional_db, demo_mode) -> None:
    for prompt, status in (
        ("一只可爱的橘猫在窗台上晒太阳", GenerationStatus.SUCCEEDED),
        ("窓辺で眠る猫", GenerationStatus.SUCCEEDED),
        ("A lighthouse at dusk, 金色的夕阳", GenerationStatus.SUCCEEDED),
        ("A failed lighthouse", GenerationStatus.FAILED),
    ):
        if status == GenerationStatus.SUCCEEDED:
            finish(make_generation(prompt=prompt, width=640, height=640))
        else:
            make_generation(prompt=prompt, status=status)


@VIEWPORTS
def test_filters_apply_as_they_change_and_search_finds_chinese_and_japanese_words(
    gallery_of_many_kinds, open_page, viewport
):
    page = open_page(viewport)
    page.goto("/gallery/")
    tiles = page.locator(".tile")
    expect(tiles).to_have_count(3)
    expect(page.get_by_role("button", name="Show")).to_have_count(0)
    expect(page.get_by_label("Status")).to_be_hidden()

    page.locator(".filter-toggle summary").click()
    page.get_by_label("Status").select_option("all")
    expect(page.locator("#filter-count")).to_have_text("1 active")
    expect(tiles).to_have_count(4)
    expect(page.locator(".tile.status-failed")).to_contain_text("A failed lighthouse")
    assert page.url.endswith("/gallery/?status=all")

    page.get_by_label("Search").fill("橘猫")
    expect(tiles).to_have_count(1)
    expect(tiles).to_contain_text("一只可爱的橘猫")
    page.get_by_label("Search").fill("猫")
    expect(tiles).to_have_count(2)
    page.get_by_label("Search").fill("夕阳 lighthouses")
    expect(tiles).to_have_text([re.compile("A lighthouse at dusk")])
    assert "status=all" in page.url
    assert "q=%E5%A4%95" in page.url

    page.reload()
    expect(tiles).to_have_count(1)
    expect(page.get_by_label("Search")).to_have_value("夕阳 lighthouses")


def test_a_tile_shows_its_image_when_it_lands(page: Page, use_fake_provider):
    generation = create_generation(prompt="A slow lighthouse [fault:hold]", width=640, height=640)
    page.goto("/gallery/")
    live = tile(page, generation)
    expect(live).to_have_attribute("data-live-card", generation.public_id)
    expect(live).to_contain_text(re.compile("Queued|Generating"))

    use_fake_provider.release()
    expect(live.locator("img")).to_be_visible()
    expect(live).not_to_have_attribute("data-live-card", re.compile(".*"))


def test_on_a_phone_two_or_three_tiles_share_a_row_and_nothing_overflows(fifty_tiles, open_page):
    page = open_page(PHONE)
    page.goto("/gallery/")

    tops = page.locator(".tile").evaluate_all(
        "tiles => tiles.map((tile) => tile.getBoundingClientRect().top)"
    )
    assert tops.count(tops[0]) in (2, 3)
    assert tops[0] < PHONE["height"], "the first tiles show on the first screen"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
