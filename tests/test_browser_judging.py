"""Blind judging in a real Chromium, at 1440×900 and on a 390×844 phone: a round made from a 2-arm batch, 20 votes
by keys (and a tap on the phone), the leaderboard of a second browser following them live, and axe-core finding
nothing serious on the voting page or the leaderboard."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from judging.models import Ballot
from tests.conftest import DESKTOP, PHONE
from tests.factories import make_finished_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = ("ArrowLeft", "ArrowRight", "ArrowDown", "ArrowUp")
SERIOUS = ("serious", "critical")


def serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def shown_ballot(page: Page) -> str:
    return page.locator("[data-judging-stage] form[data-ballot]").get_attribute("data-ballot") or ""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_round_from_a_batch_is_voted_by_keys_while_a_second_browser_watches_the_leaderboard(
    open_page, demo_mode, viewport
):
    batch = make_finished_batch(prompts=[f"A kite number {n}" for n in range(6)], seeds=(1, 2, 3, 4))
    judge = open_page(viewport)
    judge.goto(batch.get_absolute_url())
    judge.get_by_role("link", name="Judge blind…").click()
    judge.get_by_role("radio", name=re.compile(r"Prompt extend: .*\(24 pairs\)")).check()
    judge.get_by_label("Question").fill("Which would you ship?")
    judge.get_by_role("button", name="Make the round").click()
    expect(judge.get_by_role("heading", name="Which would you ship?")).to_be_visible()
    expect(judge.locator("[data-verdict]")).to_contain_text("No votes yet")
    assert serious_violations(judge) == []

    watcher = open_page(viewport)
    watcher.goto(judge.url)
    expect(watcher.locator("[data-verdict]")).to_contain_text("No votes yet")

    judge.get_by_role("link", name="Start voting").click()
    judge.get_by_label("Your name").fill("Ada")  # an open instance: no account, a name
    judge.get_by_role("button", name="Start judging").click()
    expect(judge.get_by_role("button", name="Pick image A")).to_be_visible()
    assert serious_violations(judge) == []
    for index in range(20):
        before = shown_ballot(judge)
        judge.keyboard.press(KEYS[index % len(KEYS)])
        expect(judge.locator("[data-judging-stage] form[data-ballot]")).not_to_have_attribute(
            "data-ballot", before
        )
    expect(judge.locator("[data-judging-count]")).to_have_text("20 votes")

    expect(watcher.get_by_text(re.compile(r"^20 votes from 1 judge"))).to_be_visible()
    expect(watcher.locator("[data-verdict]")).not_to_contain_text("No votes yet")
    assert Ballot.objects.filter(voted_at__isnull=False).count() == 20

    if viewport is PHONE:
        before = shown_ballot(judge)
        judge.get_by_role("button", name="Pick image B").tap()
        expect(judge.locator("[data-judging-count]")).to_have_text("21 votes")
        assert shown_ballot(judge) != before
        assert judge.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert serious_violations(watcher) == []
