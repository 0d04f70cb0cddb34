"""What images cost: a price table with effective dates, a cost recorded when queued and final when it ends, and
costs and estimates where people look (card, detail page, grid, batch preview, usage, /metrics)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from generations.models import Generation, GenerationStatus, Price
from generations.services.lifecycle import generation_cancel
from tests.factories import create_generation, finish, make_batch, make_generation, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status", "error_code", "started", "cost", "may_be_billed"),
    [
        ("succeeded", "", True, "0.015", False),
        ("failed", "provider_unavailable", True, "0", False),  # a 5xx made nothing
        ("failed", "provider_rejected", True, "0", False),
        ("failed", "provider_rate_limited", False, "0", False),  # a 429 is never billed
        ("failed", "provider_timeout", True, "0.015", True),  # it may still have run
        ("failed", "image_download_failed", True, "0.015", False),  # it answered with an image
        ("cancelled", "cancelled", False, "0", False),  # before it was sent
        ("cancelled", "cancelled", True, "0.015", True),  # while the provider made it
        ("interrupted", "interrupted", True, "0.015", True),
        ("queued", "", False, "0.015", False),  # what it will cost
    ],
)
def test_a_generations_cost_follows_how_it_ended(status, error_code, started, cost, may_be_billed):
    generation = make_generation(
        price=Decimal("0.015"),
        status=status,
        error_code=error_code,
        started_at=timezone.now() if started else None,
    )

    generation.refresh_from_db()
    assert (generation.cost, generation.may_be_billed) == (Decimal(cost), may_be_billed)


def test_each_generation_is_priced_when_queued_and_prompt_extend_costs_more(use_fake_provider):
    plain, extended = create_generation(prompt_extend=False), create_generation(prompt_extend=True)

    assert (plain.price, extended.price) == (Decimal("0.015"), Decimal("0.030"))
    assert finish(plain).cost == Decimal("0.015")
    assert finish(make_generation(prompt="A fox [fault:503]", price=Decimal("0.015"))).cost == 0


def test_a_new_price_applies_from_its_date_and_never_rewrites_past_costs(use_fake_provider):
    before = create_generation()
    Price.objects.create(
        effective_from=timezone.now() + timedelta(hours=1),
        per_image=Decimal("1"),
        prompt_extend_extra=Decimal("1"),
    )
    Price.objects.create(
        effective_from=timezone.now() - timedelta(seconds=1),
        per_image=Decimal("0.02"),
        prompt_extend_extra=Decimal("0.01"),
    )

    after = create_generation(prompt_extend=True)

    before.refresh_from_db()
    assert (before.price, after.price) == (Decimal("0.015"), Decimal("0.03"))


def test_the_card_and_the_detail_page_show_the_cost(client, use_fake_provider):
    queued = create_generation()
    done = finish(make_generation(price=Decimal("0.015")))
    failed = finish(make_generation(prompt="A fox [fault:503]", price=Decimal("0.015")))

    assert "about $0.015" in client.get(reverse("generations:card", args=[queued.public_id])).text
    assert ">$0.015</span>" in client.get(done.get_absolute_url()).text
    assert "Not billed" in client.get(failed.get_absolute_url()).text


def test_a_cancelled_running_generation_says_it_may_be_billed(client, use_fake_provider):
    generation = create_generation()
    Generation.objects.filter(pk=generation.pk).update(
        status=GenerationStatus.RUNNING, started_at=timezone.now()
    )

    generation_cancel(generation=generation)

    assert "$0.015, may be billed" in client.get(generation.get_absolute_url()).text


def test_offline_demo_images_say_they_are_free(client, demo_mode):
    generation = finish(create_generation())

    assert "Free (demo)" in client.get(generation.get_absolute_url()).text


def test_the_grid_says_what_its_images_cost_and_how_long_the_rest_should_take(client, use_fake_provider):
    batch = make_batch(prompts=["A", "B"], seeds=[1, 2])
    for cell in batch.cells.order_by("cell_index")[:2]:
        finish(cell)

    page = client.get(batch.get_absolute_url()).text

    assert "2 images, $0.03 so far" in page
    assert " left</span>" in page, "an estimate for the two still queued"


def test_the_batch_preview_says_what_the_batch_would_cost_and_how_long_it_takes(
    client, use_fake_provider, settings
):
    settings.PROVIDER_MAX_CONCURRENT, settings.PROVIDER_MAX_PER_MINUTE = 3, 60
    data = {"prompts": "A fox\nA lighthouse", "seed_count": "12", "sizes": "1024x1024", "extend": "off"}

    page = client.post(reverse("generations:batch-preview"), data, HTTP_HX_REQUEST="true").text

    assert "2 prompts × 12 seeds × 1 size = 24 images, about $0.36." in page
    assert "At 3 at once and 60 a minute: about 15 s." in page, (
        "8 rounds of 3, 2 s each (the typical latency)"
    )


def test_metrics_show_spend_and_the_providers_pace(client, use_fake_provider, settings):
    settings.PROVIDER_MAX_CONCURRENT = 3
    finish(make_generation(price=Decimal("0.015")))
    make_generation(price=Decimal("0.015"), status="interrupted", error_code="interrupted")

    text = client.get("/metrics").text

    assert 'zimage_spend_total{code="",status="succeeded"} 0.015' in text
    assert 'zimage_may_be_billed_total{code="interrupted",status="interrupted"} 1.0' in text
    assert "zimage_provider_pace_concurrency 3.0" in text
    assert "zimage_provider_pace_per_minute 120.0" in text


def test_the_usage_page_shows_spend_per_day_person_and_batch_with_a_chart(client, use_fake_provider):
    alice = make_user("alice")
    make_generation(user=alice, price=Decimal("0.015"), status="succeeded")
    make_generation(user=alice, price=Decimal("0.03"), status="succeeded", prompt_extend=True)
    batch = make_batch(prompts=["A batch prompt"], seeds=[1, 2], user=alice)
    make_generation(price=Decimal("0.015"), status="failed", error_code="provider_unavailable")

    page = client.get(reverse("generations:usage")).text

    assert '<th scope="row">alice</th><td>4</td>\n        <td>$0.075</td>' in page
    assert f'<a href="{batch.get_absolute_url()}">A batch prompt</a>' in page
    assert 'class="axis-label"' in page
    assert "Nothing spent" not in page
    assert "$0.075 in all" in page


def test_the_usage_chart_has_axes_and_says_so_when_nothing_was_spent(client, demo_mode):
    page = client.get(reverse("generations:usage")).text

    assert "Nothing spent in the last 30 days" in page
    assert page.count('class="axis"') == 2
    assert "No generations in the last 30 days." in page


def test_my_usage_counts_only_mine_and_downloads_as_csv(client, use_fake_provider):
    alice, bob = make_user("alice"), make_user("bob")
    make_generation(user=alice, price=Decimal("0.015"), status="succeeded")
    make_generation(user=bob, price=Decimal("0.03"), status="succeeded")
    client.force_login(alice)

    page = client.get(reverse("generations:usage"), {"scope": "mine"}).text
    download = client.get(reverse("generations:usage-csv"), {"scope": "mine"})

    assert "1 image, $0.015 in all" in page
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in download["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0] == ["day (UTC)", "person", "images", "spend (USD)", "may be billed"]
    assert [row[1:] for row in rows[1:]] == [["alice", "1", "0.015000", "0"]]
