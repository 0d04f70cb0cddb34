"""Image first, measured in a real Chromium at 1440×900 and on a 390×844 touch phone, light and dark: the newest
result large, every picture as sharp as the screen, the phone's first screen, the gallery's start, the batch
summary's arithmetic, the grid's buttons following the live state, and no console error or warning anywhere."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from generations.models import Batch, Generation, GenerationStatus, Requester
from generations.selectors import GALLERY_PAGE_SIZE
from generations.services.batches import batch_run_again
from tests.conftest import DESKTOP, PHONE, overflows_sideways
from tests.factories import finish, finish_all, make_batch, make_generation, make_many_tiles

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMES = pytest.mark.parametrize("scheme", ["light", "dark"])
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
SHAPES = ((1024, 1536), (1024, 1024), (1360, 768), (896, 1184), (1200, 900), (768, 1360))

# Each shown picture's source, in pixels across (its width in srcset, else its own width), against the width it
# is painted at times the screen's pixel density. Where even the original is smaller, the original will do.
UNSHARP_PICTURES = """() => [...document.images].filter((img) => {
    const box = img.getBoundingClientRect();
    return img.complete && img.naturalWidth && box.width && box.bottom > 0 && box.top < innerHeight;
}).map((img) => {
    const box = img.getBoundingClientRect();
    const aspect = Number(img.getAttribute("width")) / Number(img.getAttribute("height"));
    const fit = getComputedStyle(img).objectFit;
    const painted = fit === "contain" ? Math.min(box.width, box.height * aspect)
        : fit === "cover" ? Math.max(box.width, box.height * aspect) : box.width;
    const widths = new Map(img.srcset.split(",").map((source) => source.trim().split(/\\s+/))
        .filter((parts) => parts.length === 2).map(([url, width]) => [new URL(url, location.href).href, parseInt(width)]));
    const pixels = widths.get(img.currentSrc) || img.naturalWidth;
    const largest = Math.max(pixels, ...widths.values());
    const needed = Math.min(painted * devicePixelRatio, largest);
    return {src: img.currentSrc, pixels, needed: Math.round(needed)};
}).filter((picture) => picture.pixels < picture.needed * 0.97)"""
SHOWN_PICTURES = """() => [...document.images].filter((img) => {
    const box = img.getBoundingClientRect();
    return box.width && box.bottom > 0 && box.top < innerHeight;
})"""


def box(locator) -> dict:
    value = locator.bounding_box()
    assert value is not None, "the element is not rendered"
    return value


def wait_for_pictures(page: Page) -> int:
    """Wait until every picture in view has loaded; how many there are."""
    page.wait_for_function(f"() => ({SHOWN_PICTURES})().every((img) => img.complete && img.naturalWidth > 0)")
    return page.evaluate(f"({SHOWN_PICTURES})().length")


def console_problems(page: Page) -> list[str]:
    """Every console error or warning and uncaught exception of the page, as it happens."""
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"exception: {error}"))
    return problems


@pytest.fixture
def shapes(transactional_db, demo_mode) -> list[Generation]:
    """Finished generations of every aspect ratio, a custom one among them, and a batch of two prompts × two seeds."""
    generations = [
        finish(
            make_generation(
                prompt=f"A lighthouse at dusk, {width}x{height}", width=width, height=height, seed=index
            )
        )
        for index, (width, height) in enumerate(SHAPES)
    ]
    finish_all(make_batch(prompts=("A red kite", "A green kite"), seeds=(1, 2), sizes=("1024x1536",)))
    return generations


@SCHEMES
@pytest.mark.parametrize("size", ["1024x1536", "1360x768", "1024x1024"])
def test_after_generate_the_newest_image_is_shown_large(open_page, demo_mode, scheme, size):
    page = open_page(DESKTOP, color_scheme=scheme)
    page.goto("/")
    page.get_by_label("Prompt", exact=True).fill("A lighthouse at dusk")
    page.get_by_label("Size", exact=True).select_option(size)
    page.get_by_role("button", name="Generate").click()

    hero = page.locator("#results > .card").first.locator(".card-media img")
    expect(hero).to_be_visible()
    picture = box(hero)
    # At least 55 % of the screen's width, or its whole height below the page's header.
    assert picture["width"] >= 0.55 * DESKTOP["width"] or (
        picture["y"] <= 110 and picture["y"] + picture["height"] >= DESKTOP["height"] - 40
    ), picture
    assert page.evaluate(UNSHARP_PICTURES) == []


@SCHEMES
def test_on_a_phone_the_newest_image_is_full_width(open_page, demo_mode, scheme):
    page = open_page(PHONE, color_scheme=scheme, device_scale_factor=2)
    page.goto("/")
    page.get_by_label("Prompt", exact=True).fill("A lighthouse at dusk")
    page.get_by_role("button", name="Generate").tap()

    hero = page.locator("#results > .card").first.locator(".card-media img")
    expect(hero).to_be_visible()
    assert box(hero)["width"] >= 0.9 * PHONE["width"]
    expect(hero).to_be_in_viewport(ratio=0.5)
    assert not overflows_sideways(page)


@pytest.mark.parametrize("dpr", [1, 2])
@VIEWPORTS
def test_every_picture_is_at_least_as_sharp_as_the_screen(shapes, open_page, viewport, dpr):
    page = open_page(viewport, device_scale_factor=dpr)
    batch = Batch.objects.get()
    checked = {}
    for url in ("/", "/gallery/", shapes[0].get_absolute_url(), batch.get_absolute_url()):
        page.goto(url)
        checked[url] = wait_for_pictures(page)
        assert page.evaluate(UNSHARP_PICTURES) == [], url
    page.goto("/gallery/")
    page.locator(".tile-media").first.click()
    expect(page.locator("[data-lightbox-image]")).to_have_attribute("src", re.compile(r"/image/$"))
    checked["lightbox"] = wait_for_pictures(page)
    assert page.evaluate(UNSHARP_PICTURES) == []

    assert all(checked.values()), checked


@SCHEMES
def test_on_a_phone_the_first_screen_holds_the_prompt_and_generate_and_nothing_is_cut_off(
    shapes, open_page, scheme
):
    page = open_page(PHONE, color_scheme=scheme)
    page.goto("/")

    header, banner = box(page.locator(".site-header")), box(page.locator(".demo-banner"))
    assert header["height"] <= 56, "one row"
    assert box(page.locator(".brand"))["y"] == pytest.approx(
        box(page.get_by_role("button", name="Menu"))["y"], abs=12
    )
    assert banner["height"] <= 32, "the demo notice is one line"
    for control in (page.get_by_label("Prompt", exact=True), page.get_by_role("button", name="Generate")):
        expect(control).to_be_visible()
        assert box(control)["y"] + box(control)["height"] <= PHONE["height"]
    for hint in (page.locator(".shortcut-hint"), page.get_by_text("or drop one here")):
        expect(hint).to_be_hidden()
    cut_off = page.evaluate(
        """() => [...document.querySelectorAll('#generation-form :is(input, select, textarea, button)')]
            .filter((control) => control.getBoundingClientRect().width)
            .filter((control) => control.getBoundingClientRect().right > innerWidth
                || (control.tagName === 'SELECT' && control.scrollWidth > control.clientWidth))
            .map((control) => control.name || control.textContent)"""
    )
    assert cut_off == []
    page.get_by_role("button", name="Menu").tap()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery")).to_be_visible()
    for url in (
        "/",
        "/gallery/",
        "/batch/",
        shapes[0].get_absolute_url(),
        Batch.objects.get().get_absolute_url(),
    ):
        page.goto(url)
        assert not overflows_sideways(page), url


@SCHEMES
@VIEWPORTS
def test_the_gallery_starts_within_150_px_and_shows_filters_and_the_bulk_bar_only_when_asked(
    shapes, open_page, viewport, scheme
):
    page = open_page(viewport, color_scheme=scheme)
    page.goto("/gallery/")

    tiles = page.locator(".tile")
    assert box(tiles.first)["y"] <= 150
    expect(page.get_by_label("Status")).to_be_hidden()
    expect(page.locator("#filter-count")).to_have_text("")
    bar = page.locator("#gallery-selection")
    expect(bar).to_be_hidden()
    tops = tiles.evaluate_all("tiles => tiles.map((tile) => Math.round(tile.getBoundingClientRect().top))")
    heights = tiles.evaluate_all(
        "tiles => tiles.map((tile) => Math.round(tile.getBoundingClientRect().height))"
    )
    first_row = [height for top, height in zip(tops, heights, strict=True) if top == tops[0]]
    assert len(first_row) >= 2, "several pictures share a row"
    assert max(first_row) - min(first_row) <= 1, "rows of even height, without holes"

    tiles.first.locator("[data-compare-pick]").check()
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("1 selected.")
    tiles.first.locator("[data-compare-pick]").uncheck()
    expect(bar).to_be_hidden()
    page.locator(".filter-toggle summary").click()
    page.get_by_label("Aspect ratio").select_option("16:9")
    expect(page.locator("#filter-count")).to_have_text("1 active")
    expect(tiles).to_have_count(1)


def test_the_lightbox_shows_the_prompt_seed_size_extend_and_the_toolbar(shapes, open_page):
    page = open_page(DESKTOP)
    page.goto("/gallery/")
    page.locator(".tile-media").first.click()

    lightbox = page.locator("#lightbox")
    first_tile = page.locator(".tile").first.get_attribute("id").removeprefix("generation-")
    newest = Generation.objects.get(public_id=first_tile)
    expect(lightbox.locator("#lightbox-title")).to_contain_text(newest.prompt)
    expect(lightbox.locator(".facts")).to_contain_text(f"Size{newest.width}×{newest.height}")
    expect(lightbox.locator(".facts")).to_contain_text(f"Seed{newest.seed}")
    expect(lightbox.locator(".facts")).to_contain_text(f"Extend{'on' if newest.prompt_extend else 'off'}")
    for action in ("Favourite", "More actions"):
        expect(lightbox.get_by_role("button", name=action)).to_be_visible()
    for action in ("Download", "Copy link", "Use settings"):
        expect(lightbox.get_by_role("link", name=action)).to_be_visible()


@VIEWPORTS
def test_the_batch_summary_follows_every_kind_of_edit(open_page, demo_mode, viewport):
    page = open_page(viewport)
    page.goto("/batch/")
    summary = page.locator("#batch-summary")
    prompts = page.get_by_label("Prompts")

    prompts.press_sequentially("A {red|green} kite\nA lighthouse", delay=0)
    page.get_by_label("Seeds to draw").fill("10")  # typed at once after the prompts
    expect(summary).to_contain_text("3 prompts × 10 seeds × 1 size = 30 images")
    page.get_by_role("checkbox", name="1024×1024").check()
    expect(summary).to_contain_text("3 prompts × 10 seeds × 2 sizes = 60 images")
    page.get_by_role("checkbox", name="1024×1536").uncheck()
    expect(summary).to_contain_text("3 prompts × 10 seeds × 1 size = 30 images")
    page.get_by_label("Custom sizes").fill("1200x900, 900x1200")
    expect(summary).to_contain_text("3 prompts × 10 seeds × 3 sizes = 90 images")
    page.get_by_label("Or these seeds").fill("1, 2")
    expect(summary).to_contain_text("3 prompts × 2 seeds × 3 sizes = 18 images")
    page.get_by_label("Both: each image with and without").check()
    expect(summary).to_contain_text(
        "3 prompts × 2 seeds × 3 sizes × prompt extend off and on = 36 images, 18 with prompt extend"
    )
    prompts.fill("")
    prompts.focus()
    page.keyboard.insert_text("One\nTwo\nThree\nFour")  # as a paste puts it in
    expect(summary).to_contain_text(
        "4 prompts × 2 seeds × 3 sizes × prompt extend off and on = 48 images, 24 with prompt extend"
    )
    page.get_by_label("Custom sizes").fill("10x10")
    expect(summary).to_contain_text("the model accepts")


@pytest.mark.parametrize("worker_concurrency", [1])
def test_the_grids_buttons_follow_its_live_state(page: Page, use_fake_provider):
    use_fake_provider.latency_s = 0.6
    problems = console_problems(page)
    page.goto("/batch/")
    page.get_by_label("Prompts").fill("A kite\nA broken kite [fault:503]")
    page.get_by_label("Or these seeds").fill("1, 2")
    page.get_by_role("button", name="Queue the batch").click()
    expect(page).to_have_url(re.compile(r"/b/[\w-]+/$"))

    cancel = page.get_by_role("button", name=re.compile(r"Cancel the \d+ cells? not yet sent"))
    retry_all = page.get_by_role("button", name=re.compile(r"Retry the \d+ cells? that failed"))
    expect(cancel).to_be_visible()
    expect(page.locator("#batch-progress")).to_contain_text("2 of 4 done, 2 failed", timeout=30_000)
    expect(cancel).to_have_count(0)
    expect(retry_all).to_have_text("Retry the 2 cells that failed or were cancelled")
    failed = page.locator(".grid-cell.status-failed").first
    expect(failed).to_contain_text("having trouble right now")
    failed.get_by_role("button", name="Retry").click()
    expect(page.locator(".grid-cell.status-failed")).to_have_count(1)
    expect(page.locator("#batch-progress")).to_contain_text("2 of 4 done, 1 failed")
    expect(page.locator(".grid-cell.status-failed")).to_have_count(2, timeout=30_000)
    expect(page.locator("#batch-progress")).to_contain_text("2 of 4 done, 2 failed")
    assert Generation.objects.filter(status=GenerationStatus.FAILED).count() == 3, (
        "one cell retried in its place"
    )
    assert problems == []


def test_no_page_or_state_logs_a_console_error_or_warning(shapes, open_page, django_user_model, playground):
    page = open_page(DESKTOP)
    problems = console_problems(page)
    batch = Batch.objects.get()
    for url in (
        "/",
        "/gallery/",
        "/usage/",
        "/accounts/login/",
        "/batch/",
        shapes[0].get_absolute_url(),
        batch.get_absolute_url(),
        f"/compare/?id={shapes[0].public_id}&id={shapes[1].public_id}",
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
    page.goto("/")
    page.get_by_label("Prompt", exact=True).fill("A paper boat on a pond")
    page.get_by_role("button", name="Generate").click()
    hero = page.locator("#results > .card").first
    expect(hero).to_contain_text("A paper boat on a pond")
    expect(hero.locator("img")).to_be_visible()
    hero.get_by_role("button", name="More actions").click()
    hero.get_by_role("button", name="Copy prompt").click()
    page.locator("#results > .card").nth(1).locator(".card-image").click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).not_to_be_visible()
    # Closing goes Back in history (the lightbox's URL ends in "/" too): a goto before Back lands is aborted.
    expect(page).to_have_url(f"{playground}/")
    page.goto("/gallery/")
    page.get_by_label("Search").fill("lighthouse")
    page.locator(".filter-toggle summary").click()
    page.get_by_label("Status").select_option("all")
    page.locator(".tile [data-compare-pick]").first.check()
    page.locator(".tile-media").first.click()
    page.locator("#lightbox").get_by_role("button", name="Favourite").click()
    expect(page.locator("#lightbox").get_by_role("button", name="Favourite")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"/gallery/"))
    page.goto(batch.get_absolute_url())
    page.get_by_label("Cell size").evaluate(
        "(slider) => { slider.value = 240; slider.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.get_by_label("Rows").select_option("seed")
    page.get_by_label("Columns").select_option("prompt")
    expect(page).to_have_url(re.compile(r"x=prompt"))
    expect(page.get_by_role("columnheader", name="A red kite")).to_be_visible()
    page.locator(".grid-cell").first.get_by_role("button", name="Actions").click()
    expect(page.get_by_role("link", name="Details")).to_be_visible()
    page.goto("/batch/")
    page.get_by_label("Prompts").fill("A {red|green} kite")
    expect(page.locator("#batch-summary")).to_contain_text("2 prompts")
    page.get_by_role("button", name="Queue the batch").click()
    expect(page.locator("#batch-progress")).to_contain_text("8 of 8 done")
    page.wait_for_load_state("networkidle")

    assert problems == [], "\n".join(problems)


def test_no_page_or_state_logs_a_console_error_or_warning_on_a_phone(shapes, open_page):
    batch = Batch.objects.get()
    rerun = batch_run_again(batch=batch, requester=Requester.of(None))
    finish_all(rerun)
    page = open_page(PHONE, color_scheme="dark")
    problems = console_problems(page)
    for url in (
        "/",
        "/gallery/",
        "/usage/",
        "/batch/",
        shapes[0].get_absolute_url(),
        rerun.get_absolute_url(),
        reverse("generations:batch-compare", args=[batch.public_id, rerun.public_id]),
    ):
        page.goto(url)
        page.get_by_role("button", name="Menu").tap()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        page.keyboard.press("Escape")
        page.wait_for_load_state("networkidle")
    page.get_by_label("Changed only").check()
    page.goto("/gallery/")
    page.locator(".tile-media").first.tap()
    page.locator("#lightbox").get_by_role("button", name="More actions").tap()
    expect(page.locator("#lightbox").get_by_role("link", name="Details")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.locator(".filter-toggle summary").tap()
    page.get_by_label("Favourites only").check()
    expect(page.locator("#filter-count")).to_have_text("1 active")

    assert problems == [], "\n".join(problems)


@pytest.fixture
def first_gallery_page(transactional_db, demo_mode) -> list[Generation]:
    """A gallery page of 48 offline-demo pictures at their full sizes, in six shapes (their files shared)."""
    return make_many_tiles(GALLERY_PAGE_SIZE, sizes=SHAPES)


def gallery_page_weight(page: Page) -> dict[str, int]:
    """The bytes the first gallery page fetches once each of its 48 tiles has been scrolled into view (the next
    page is not fetched): the page, and the pictures among what it loads, headers included (the browser's
    resource timing)."""
    page.route("**/gallery/?*after=*", lambda route: route.abort())
    page.goto("/gallery/")
    for tile in page.locator(".tile").all():
        tile.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tile img')].every((img) => img.complete && img.naturalWidth > 0)"
    )
    page.wait_for_load_state("networkidle")
    return page.evaluate(
        r"""() => {
            const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
            const pictures = entries.filter((entry) => /\/g\/[^/]+\/(thumbnail|image)\//.test(entry.name));
            const sum = (list) => list.reduce((total, entry) => total + entry.transferSize, 0);
            return {total: sum(entries), pictures: sum(pictures), count: pictures.length};
        }"""
    )


def test_the_first_gallery_page_weighs_under_400_kb_on_an_ordinary_screen(first_gallery_page, open_page):
    weights = {
        f"{name} at DPR {dpr}": gallery_page_weight(open_page(viewport, device_scale_factor=dpr))
        for name, viewport, dpr in (("1440x900", DESKTOP, 1), ("1440x900", DESKTOP, 2), ("390x844", PHONE, 3))
    }

    print(
        "\nfirst gallery page, 48 tiles: "
        + "; ".join(
            f"{name}: {weight['total'] / 1024:.0f} KB ({weight['pictures'] / 1024:.0f} KB of pictures)"
            for name, weight in weights.items()
        )
    )
    assert all(weight["count"] == GALLERY_PAGE_SIZE for weight in weights.values())
    assert weights["1440x900 at DPR 1"]["total"] < 400 * 1024
