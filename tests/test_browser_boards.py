"""Boards in a real Chromium, at 1440×900 and 390×844: a board from a grid's picks, rating with keys (a tap on a
phone) in the lightbox, a guest commenting through a share link while the team sees it live, switching a link
off, review mode to the end, the CSV; and axe-core on every page the reviews add."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from generations.models import Batch
from reviews.models import Board, BoardShareLink, Comment, LinkScope, Rating
from reviews.people import Person
from reviews.services.comments import comment_post
from reviews.services.ratings import rating_set
from tests.conftest import DESKTOP, PHONE
from tests.factories import (
    finish,
    finish_all,
    make_batch,
    make_board,
    make_generation,
    make_share_link,
    make_user,
)
from tests.test_browser_accessibility import serious_violations
from tests.test_browser_gallery import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


def is_phone(viewport: dict) -> bool:
    return viewport is PHONE


# Rows are made before the worker starts (list these fixtures before `open_page`).
@pytest.fixture
def team(transactional_db, demo_mode) -> dict:
    alice, bob = make_user("alice"), make_user("bob")
    images = [
        finish(make_generation(prompt=f"Picture {index}", seed=index, width=1024, height=1024))
        for index in range(3)
    ]
    board = make_board(alice, generations=images, name="Campaign keepers")
    return {"alice": alice, "bob": bob, "images": images, "board": board}


@pytest.fixture
def grid(team) -> Batch:
    batch = make_batch(prompts=["A fox", "An owl"], seeds=[1, 2], user=team["alice"])
    finish_all(batch)
    return batch


def settled(region) -> None:
    """Wait until htmx has set up what it swapped in there (new content carries `htmx-added` until then)."""
    expect(region.locator(".htmx-added")).to_have_count(0)


def page_of(open_page, viewport: dict, user, base_url: str | None = None) -> Page:
    page = open_page(viewport)
    if user is not None:
        page.goto("/")
        sign_in(page, user, page.url)
    return page


@VIEWPORTS
def test_it_makes_a_board_from_the_cells_picked_on_a_grid(team, grid, open_page, viewport):
    page = page_of(open_page, viewport, team["alice"])
    page.goto(grid.get_absolute_url())

    page.get_by_label(re.compile(r"Pick “A fox”, seed 2")).check()
    page.get_by_label(re.compile(r"Pick “An owl”, seed 1")).check()
    page.get_by_role("button", name="Add ticked to board…").click()
    dialog = page.get_by_role("dialog", name="Add 2 images to a board")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Or a new board").fill("Grid picks")
    dialog.get_by_role("button", name="Add to board").click()
    done = page.get_by_role("dialog", name="2 images added to “Grid picks”.")
    expect(done).to_be_visible()
    done.get_by_role("link", name="Open “Grid picks”").click()

    expect(page.get_by_role("heading", name="Grid picks")).to_be_visible()
    expect(page.locator(".board-item")).to_have_count(2)
    board = Board.objects.get(name="Grid picks")
    assert [(item.generation.prompt, item.generation.seed) for item in board.items.order_by("position")] == [
        ("A fox", 2),
        ("An owl", 1),
    ]


@VIEWPORTS
def test_a_person_rates_in_the_gallerys_lightbox_with_keys_or_a_tap(team, open_page, viewport):
    rating_set(generation=team["images"][2], person=Person(user=team["bob"]), value=2)
    page = page_of(open_page, viewport, team["alice"])
    page.goto("/gallery/")
    page.locator(".tile-media").first.click()
    lightbox = page.locator("#lightbox")
    stars = lightbox.locator("[data-lightbox-reviews]")
    expect(stars).to_contain_text("Team mean 2.0★")

    if is_phone(viewport):
        stars.get_by_role("button", name="4 stars").tap()
    else:
        page.keyboard.press("4")
    expect(stars.get_by_role("button", name="4 stars")).to_have_attribute("aria-pressed", "true")
    expect(stars).to_contain_text("Team mean 3.0★ · 2 ratings")
    assert Rating.objects.get(user=team["alice"]).value == 4

    page.keyboard.press("ArrowRight") if not is_phone(viewport) else lightbox.get_by_role(
        "button", name="Next image"
    ).tap()
    expect(stars).to_contain_text("Nobody has rated it yet.")
    page.keyboard.press("ArrowLeft") if not is_phone(viewport) else lightbox.get_by_role(
        "button", name="Previous image"
    ).tap()
    expect(stars).to_contain_text("Team mean 3.0★")
    if is_phone(viewport):
        stars.get_by_role("button", name="Clear my rating").tap()
    else:
        page.keyboard.press("0")
    expect(stars).to_contain_text("Team mean 2.0★ · 1 rating")
    assert not Rating.objects.filter(user=team["alice"]).exists()


@VIEWPORTS
def test_a_guest_comments_through_a_comment_link_signed_out_and_the_team_sees_it_live(
    team, open_page, viewport
):
    link = make_share_link(team["board"], label="Client", scope=LinkScope.COMMENT)
    image = team["board"].items.order_by("position").first().generation
    teammate = page_of(open_page, viewport, team["alice"])
    teammate.goto(image.get_absolute_url())
    expect(teammate.locator(".comment-threads")).to_contain_text("No comments yet.")
    guest = page_of(open_page, viewport, None)

    guest.goto(link.get_absolute_url())
    expect(guest.get_by_role("heading", name="Campaign keepers")).to_be_visible()
    guest.locator(".board-item-media").first.click()
    lightbox = guest.get_by_role("dialog")
    expect(lightbox.get_by_label("Your name")).to_be_visible()
    settled(lightbox)
    lightbox.get_by_label("Your name").fill("Ann from the client")
    lightbox.get_by_role("textbox", name="Comment").fill("Could the <b>sky</b> be warmer?")
    lightbox.get_by_role("button", name="Post comment").click()

    expect(lightbox.locator(".comment-threads")).to_contain_text("Could the <b>sky</b> be warmer?")
    expect(lightbox.get_by_role("textbox", name="Comment")).to_have_value("")
    expect(teammate.locator(".comment-threads")).to_contain_text("Ann from the client")
    expect(teammate.locator(".comment-threads")).to_contain_text("Could the <b>sky</b> be warmer?")
    comment = Comment.objects.select_related("guest").get()
    assert comment.guest is not None
    assert (comment.guest.name, comment.share_link) == ("Ann from the client", link)


@VIEWPORTS
def test_switching_a_share_link_off_closes_it_at_once_and_leaves_the_others(team, open_page, viewport):
    revoked = make_share_link(team["board"], label="Old agency")
    kept = make_share_link(team["board"], label="Client")
    guest = page_of(open_page, viewport, None)
    guest.goto(revoked.get_absolute_url())
    expect(guest.get_by_role("heading", name="Campaign keepers")).to_be_visible()
    owner = page_of(open_page, viewport, team["alice"])

    owner.goto(team["board"].get_absolute_url())
    owner.get_by_role("link", name="Share & settings").click()
    owner.get_by_role("button", name="Switch off “Old agency”").click()
    expect(owner.locator("#link-" + revoked.public_id)).to_contain_text("Off")

    gone = guest.goto(revoked.get_absolute_url())
    assert gone is not None
    assert gone.status == 404
    expect(guest.get_by_role("heading", name="Nothing here")).to_be_visible()
    still = guest.goto(kept.get_absolute_url())
    assert still is not None
    assert still.status == 200
    assert not BoardShareLink.objects.get(pk=revoked.pk).is_active


@VIEWPORTS
def test_review_mode_walks_a_board_to_the_end(team, open_page, viewport):
    page = page_of(open_page, viewport, team["alice"])
    page.goto(team["board"].get_absolute_url())
    page.get_by_role("link", name="Review mode").click()

    for index, verdict in enumerate(("approved", "rejected", "approved")):
        expect(page.locator(".review-position")).to_have_text(f"{index + 1} of 3")
        if is_phone(viewport):
            page.get_by_role(
                "button", name=re.compile("Approve" if verdict == "approved" else "Reject")
            ).tap()
        else:
            page.keyboard.press(str(index + 3))
            expect(
                page.locator(".rating").get_by_role("button", name=f"{index + 3} stars")
            ).to_have_attribute("aria-pressed", "true")
            page.keyboard.press("a" if verdict == "approved" else "r")
        page.wait_for_load_state()

    expect(page.get_by_role("status").filter(has_text="Review finished")).to_contain_text(
        "all 3 images reviewed, 2 approved"
    )
    expect(page.locator(".review-progress")).to_contain_text("3 of 3 reviewed, 2 approved")
    page.goto(team["board"].get_absolute_url())
    expect(page.locator("#board-progress")).to_contain_text("3 of 3 reviewed, 2 approved")


@VIEWPORTS
def test_the_boards_csv_downloads_with_its_columns_and_values(team, open_page, viewport):
    first = team["images"][0]
    rating_set(generation=first, person=Person(user=team["alice"]), value=5)
    rating_set(generation=first, person=Person(user=team["bob"]), value=4)
    comment_post(person=Person(user=team["bob"]), text="Keep", generation=first)
    page = page_of(open_page, viewport, team["alice"])
    page.goto(team["board"].get_absolute_url())

    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV").click()

    download = download_info.value
    assert download.suggested_filename == f"zimage-board-{team['board'].public_id}.csv"
    with open(download.path(), encoding="utf-8") as file:
        rows = list(csv.DictReader(io.StringIO(file.read())))
    assert list(rows[0]) == [
        "image", "link", "prompt", "revised prompt", "seed", "size", "extend", "cost (not recorded yet)",
        "rating: alice", "rating: bob", "mean rating", "ratings", "review status", "comments",
    ]  # fmt: skip
    assert [row["prompt"] for row in rows] == ["Picture 0", "Picture 1", "Picture 2"]
    assert (rows[0]["rating: alice"], rows[0]["rating: bob"], rows[0]["mean rating"]) == ("5", "4", "4.50")
    assert (rows[0]["comments"], rows[0]["review status"], rows[1]["ratings"]) == ("1", "Needs review", "0")


@pytest.fixture
def review_pages(team) -> dict[str, str]:
    board, image = team["board"], team["images"][0]
    link = make_share_link(board, label="Client", scope=LinkScope.COMMENT)
    comment_post(person=Person(user=team["bob"]), text="Nice, @alice", generation=image)
    comment_post(person=Person(user=team["bob"]), text="Board note", board=board)
    rating_set(generation=image, person=Person(user=team["alice"]), value=4)
    return {
        "boards": "/boards/",
        "board": board.get_absolute_url(),
        "review mode": f"/boards/{board.public_id}/review/",
        "settings": f"/boards/{board.public_id}/settings/",
        "delete": f"/boards/{board.public_id}/delete/",
        "add": f"/boards/add/?id={image.public_id}",
        "inbox": "/inbox/",
        "detail with comments": image.get_absolute_url(),
        "shared (signed out)": link.get_absolute_url(),
    }


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
@VIEWPORTS
def test_the_reviews_pages_have_no_serious_or_critical_accessibility_violations(
    review_pages, team, open_page, viewport, color_scheme
):
    page = page_of(open_page, viewport, team["alice"])
    page.emulate_media(color_scheme=color_scheme)
    guest = open_page(viewport, color_scheme=color_scheme)
    found = {}
    for name, url in review_pages.items():
        target = guest if "signed out" in name else page
        target.goto(url)
        found[name] = serious_violations(target)

    page.goto(review_pages["board"])
    page.locator(".board-item-media").first.click()
    expect(page.get_by_role("dialog").locator(".comment-threads")).to_be_visible()
    found["board lightbox"] = serious_violations(page)
    page.goto("/gallery/")
    page.locator(".tile-media").first.click()
    expect(page.locator("[data-lightbox-reviews] .rating")).to_be_visible()
    found["gallery lightbox with rating"] = serious_violations(page)

    assert found == {name: [] for name in found}
