"""Blind judging: how soon the next pair shows after a vote, measured in Chromium, and how long the leaderboard of
a round with 10,000 votes takes to render.

Runs in-process against the benchmark's embedded PostgreSQL (var/bench) with production settings (DEBUG off,
cached templates, collected static files). The voting page is served over HTTP by uvicorn in a thread and driven
by Playwright through a guest link; the page records, for each vote, the time from the key press (the event's
time stamp) to the second animation frame after the next pair went in, that is after the frame that shows it.
The round's images are the offline demo's drawings at 1024×1024, shown as the 1536-pixel WebP renditions judges
get (made when first asked for, as in use).

    make bench
    .venv/bin/python -m benchmarks.judging
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable

import numpy as np
import uvicorn
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.handlers.asgi import ASGIHandler
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, sync_playwright

from benchmarks.in_process import REPEAT, p95, run  # sets Django up
from generations.batch_plan import BatchPlan
from generations.domain import GenerationParameters
from generations.images import image_store
from generations.models import Batch, GenerationStatus
from generations.provider.demo import draw_demo_image
from generations.services.batches import batch_create
from judging.models import Ballot, Choice, Judge, Pair, Round
from judging.selectors import batch_round_source, round_leaderboard
from judging.services.rounds import guest_link_create, round_create
from tests.conftest import CHROMIUM, CHROMIUM_FLAGS, free_port
from tests.query_count import count_queries

PREFIX = "bench-judging"
VOTES = 10_000
BROWSER_VOTES = 20


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    _leaderboard()
    _next_pair()


def _leaderboard() -> None:
    batch = _batch(prompts=25, seeds=2, draw=False)
    round = _round(batch, "Leaderboard bench")
    if not Ballot.objects.filter(round=round, voted_at__isnull=False).exists():
        _vote_at_random(round, VOTES)
    client = Client()
    client.force_login(_bench_user())
    url = round.get_absolute_url()
    with count_queries() as queries:
        assert client.get(url).status_code == 200
    page = _timed(lambda: client.get(url))
    partial = _timed(lambda: client.get(url, headers={"HX-Request": "true", "HX-Target": "leaderboard"}))
    fit = _timed(lambda: round_leaderboard(round=round))
    votes = Ballot.objects.filter(round=round, voted_at__isnull=False).count()
    judges = Judge.objects.filter(round=round).count()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\njudging: leaderboard of {votes:,} votes by {judges} judges on {round.pairs.count()} pairs, {REPEAT} requests"
        f" (load average {load} on {os.cpu_count()} cores)"
    )
    print(
        f"  round page, median / p95                  {statistics.median(page):6.1f} / {p95(page):.1f} ms (target < 100 ms), CPU {CPU_MS[0]:.1f} ms"
    )
    print(
        f"  live refresh (htmx partial), median / p95 {statistics.median(partial):6.1f} / {p95(partial):.1f} ms, CPU {CPU_MS[1]:.1f} ms"
    )
    print(
        f"  of which the reads and the fit, median    {statistics.median(fit):6.1f} ms, CPU {CPU_MS[2]:.1f} ms"
    )
    print(f"  SQL queries per page                      {queries.total:6d}")
    print(f"  verdict: {round_leaderboard(round=round).verdict}")


def _vote_at_random(round: Round, votes: int) -> None:
    """`votes` ballots from judges who each vote on every pair once: the second arm preferred 64 % of the time,
    ties and "both bad" among the rest."""
    pairs = list(Pair.objects.filter(round=round).values_list("pk", flat=True))
    chance = np.random.default_rng(23)
    now = timezone.now()
    judges = Judge.objects.bulk_create(
        Judge(round=round, name=f"Judge {number}") for number in range(-(-votes // len(pairs)))
    )
    ballots: list[Ballot] = []
    for judge in judges:
        for pair in pairs[: votes - len(ballots)]:
            draw = chance.random()
            choice = (
                Choice.B
                if draw < 0.6
                else Choice.A
                if draw < 0.9
                else Choice.TIE
                if draw < 0.95
                else Choice.BOTH_BAD
            )
            ballots.append(
                Ballot(
                    round=round,
                    judge=judge,
                    pair_id=pair,
                    a_on_left=chance.random() < 0.5,
                    choice=choice,
                    voted_at=now,
                )
            )
    Ballot.objects.bulk_create(ballots, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE judging_ballot")


def _next_pair() -> None:
    batch = _batch(prompts=13, seeds=2, draw=True)
    round = _round(batch, "Next pair bench")
    link = guest_link_create(round=round)
    settings.ALLOWED_HOSTS.append("127.0.0.1")
    server = uvicorn.Server(
        uvicorn.Config(ASGIHandler(), host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for label, pause_s in (
                ("a judge who looks 1 s at each pair", 1.0),
                ("keys pressed 0.25 s apart", 0.25),
            ):
                Judge.objects.filter(round=round).delete()
                page = browser.new_page(
                    base_url=f"http://127.0.0.1:{server.config.port}", viewport={"width": 1440, "height": 900}
                )
                page.goto(link.get_absolute_url())
                page.get_by_label("Your name").fill("Bench")
                page.get_by_role("button", name="Start judging").click()
                page.wait_for_selector("[data-judging-stage] form[data-ballot]")
                shown = [_vote(page, pause_s) for _ in range(BROWSER_VOTES)]
                page.close()
                shown.sort()
                print(
                    f"  next pair shown after a vote, {label}: median {statistics.median(shown):.1f} ms, "
                    f"p95 {p95(shown):.1f} ms, max {shown[-1]:.1f} ms over {len(shown)} votes (target median < 100 ms)"
                )
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _vote(page: Page, pause_s: float) -> float:
    """Press ← after `pause_s` and return how long the next pair took to show, as the page measured it."""
    time.sleep(pause_s)
    # Wrapped in an object: a promise returned as it is would be awaited here, before the key is pressed.
    waiting = page.evaluate_handle(
        """() => {
             const judging = document.querySelector("[data-judging]");
             const shown = new Promise((resolve) => judging.addEventListener(
               "judging:shown", () => resolve(Number(judging.dataset.shownAfterMs)), { once: true }));
             return { shown };
           }"""
    )
    page.keyboard.press("ArrowLeft")
    return page.evaluate("waiting => waiting.shown", waiting)


def _batch(*, prompts: int, seeds: int, draw: bool) -> Batch:
    """A finished batch with prompt extend off and on (once: later runs find it), with stored images if `draw`."""
    plan = BatchPlan(
        [f"{PREFIX} prompt {index}" for index in range(prompts)],
        list(range(seeds)),
        ["1024x1024"],
        [False, True],
    )
    existing = Batch.objects.filter(prompts=plan.prompts, seeds=plan.seeds).first()
    if existing and existing.cells.filter(status=GenerationStatus.SUCCEEDED).count() == plan.count:
        return existing
    batch = batch_create(plan=plan, prompts_text="\n".join(plan.prompts))
    for generation in batch.cells.all():
        if draw:
            stored = image_store(
                draw_demo_image(
                    GenerationParameters(
                        generation.prompt, 1024, 1024, generation.seed, generation.prompt_extend
                    )
                )
            )
            generation.image.name, generation.image_sha256, generation.image_bytes = (
                stored.name,
                stored.sha256,
                stored.byte_size,
            )
        else:
            generation.image.name, generation.image_sha256 = "images/none.png", "0" * 64
        generation.status = GenerationStatus.SUCCEEDED
        generation.finished_at = timezone.now()
        generation.save()
    batch.cells.update(job_id=None)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM procrastinate_jobs WHERE task_name = 'generations.run' AND status = 'todo'"
        )
    return batch


def _round(batch: Batch, question: str) -> Round:
    existing = Round.objects.filter(batch=batch, question=question).first()
    return existing or round_create(
        source=batch_round_source(batch=batch), parameter="extend", question=question, described_as=str(batch)
    )


def _bench_user():
    user, _created = get_user_model().objects.get_or_create(username="bench-judging")
    return user


def _timed(call: Callable[[], object]) -> list[float]:
    """Wall times of REPEAT calls, sorted (after three to warm up); the CPU time this process spent on them too,
    in CPU_MS, since on a shared machine the wall time also counts other processes' turns."""
    for _ in range(3):
        call()
    times = []
    cpu_started = time.process_time()
    for _ in range(REPEAT):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    CPU_MS.append((time.process_time() - cpu_started) * 1000 / REPEAT)
    return sorted(times)


CPU_MS: list[float] = []


if __name__ == "__main__":
    run(main)
