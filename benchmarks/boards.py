"""Boards and the gallery by ratings: a board's page with 500 images and 2,000 ratings and 2,000 comments (server
time, and SQL queries the same as at 5 images), and the gallery sorted by the team's mean at 1,000,000
generations and 100,000 ratings (its first page, a deep page, and the other orders and filters).

Runs in-process through Django's test client with production settings (DEBUG off, cached templates), on an
embedded PostgreSQL of its own (var/bench-boards: a million rows would change benchmarks/gallery.py's figures).
Rows, ratings and comments are seeded in SQL on first use (a few minutes, once).

    make bench
    .venv/bin/python -m benchmarks.boards
"""

from __future__ import annotations

import os
import re
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("BENCH_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench-boards"))

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.test import Client, RequestFactory

from benchmarks.in_process import REPEAT, Measured, measure, p95, run
from generations.forms import GalleryFilterForm
from generations.models import Generation
from generations.selectors import GALLERY_PAGE_SIZE, TILE_FIELDS, gallery_generations
from reviews.gallery_order import team_mean_order
from reviews.models import Board, BoardItem, Comment, Rating

if TYPE_CHECKING:  # the model may be imported only once benchmarks.in_process has set Django up
    from django.contrib.auth.models import User

ROWS = int(os.environ.get("BENCH_BOARD_ROWS", "1000000"))
RATINGS = 100_000
RATERS = 20
BOARD_IMAGES = 500
BOARD_RATINGS = BOARD_COMMENTS = 2000
NEXT_LINK = re.compile(r'class="gallery-next" href="([^"]+)"')


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # pages link the manifest's hashed names
    raters = _raters()
    _seed_generations()
    _seed_ratings(raters)
    large = _board("bench board, 500 images", BOARD_IMAGES, raters, newest=True)
    small = _board("bench board, 5 images", 5, raters, newest=False)
    client = Client()
    client.force_login(raters[0])

    print(
        f"\nboards: {Generation.objects.count():,} generations, {Rating.objects.count():,} ratings, "
        f"{REPEAT} requests each, server time in-process (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"  {'page':68} {'median':>8} {'p95':>8} {'CPU':>7} {'queries':>8}")
    queries = {}
    for label, board in (("5 images", small), ("500 images", large)):
        measured = measure(client, board.get_absolute_url())
        queries[label] = measured.queries
    _line(f"board page, 500 images, {BOARD_RATINGS:,} ratings and comments (target < 50 ms)", measured)
    print(f"  SQL queries per board page: {queries['5 images']} at 5 images, {queries['500 images']} at 500")
    _line(
        "board page sorted by team mean, mean ≥ 3",
        measure(client, f"/boards/{large.public_id}/?sort=mean&min_mean=3"),
    )
    _line("review mode", measure(client, f"/boards/{large.public_id}/review/"))

    deep = "/gallery/?sort=mean"
    for _ in range(20):
        following = NEXT_LINK.search(client.get(deep).text)
        assert following is not None, "the gallery has more than 20 pages"
        deep = following[1].replace("&amp;", "&")
    for label, url in (
        ("gallery sorted by team mean, first page (target < 30 ms)", "/gallery/?sort=mean"),
        ("gallery sorted by team mean, page 21 (keyset cursor)", deep),
        ("gallery sorted by my rating, first page", "/gallery/?sort=mine"),
        ("gallery, team mean ≥ 4, newest first", "/gallery/?mean=4"),
        ("gallery, not rated by me, sorted by team mean", "/gallery/?rated=unrated&sort=mean"),
        ("gallery, newest first (for comparison)", "/gallery/"),
    ):
        _line(label, measure(client, url))
    print(
        f"  SQL of the first page by team mean, in PostgreSQL (EXPLAIN ANALYZE): {_sql_ms(raters[0]):.1f} ms"
    )


def _line(label: str, measured: Measured) -> None:
    times = measured.wall_ms
    print(
        f"  {label:68} {statistics.median(times):6.1f}ms {p95(times):6.1f}ms {measured.cpu_ms:5.1f}ms "
        f"{measured.queries:8d}"
    )


def _sql_ms(user: User) -> float:
    """PostgreSQL's own time for the gallery's first page by team mean (its execution, warm)."""
    request = RequestFactory().get("/gallery/", {"sort": "mean"})
    request.user = user
    form = GalleryFilterForm(request.GET)
    [refinement] = form.refinements(request)
    generations = gallery_generations(filters=form.filters(), user=user, refinements=[refinement])
    order = team_mean_order()
    first = (
        generations.only(*TILE_FIELDS)
        .filter(order.rated)
        .order_by(F(order.key).desc(), F(order.tiebreak).desc())[: GALLERY_PAGE_SIZE + 1]
    )
    sql, params = first.query.sql_with_params()
    timings = []
    with connection.cursor() as cursor:
        for _ in range(10):
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            timings.append(cursor.fetchone()[0][0]["Execution Time"])
    return statistics.median(timings)


def _raters() -> list[User]:
    users = get_user_model().objects
    for index in range(RATERS):
        users.get_or_create(username=f"bench-rater-{index}")
    return list(users.filter(username__startswith="bench-rater-").order_by("id"))


def _seed_generations() -> None:
    missing = ROWS - Generation.objects.count()
    if missing <= 0:
        return
    print(f"seeding {missing:,} generations in SQL (once)…")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO generations_generation (
                public_id, model, source, is_demo, prompt, width, height, seed, prompt_extend, aspect_ratio,
                revised_prompt, reasoning, status, error_code, error_message, provider_url, provider_request_id,
                image, thumbnail, image_bytes, image_sha256, image_dhash, attempts, created_at, is_favourite,
                maker_session
            )
            SELECT substr(md5(random()::text || i::text), 1, 22), 'z-image-turbo', 'web', true,
                   'A seeded lighthouse, number ' || i, 1024, 1024, i, i %% 7 = 0, '1:1', '', '', 'succeeded', '', '',
                   '', '', 'images/bench.png', 'thumbnails/bench.webp', 1000, '', '', 1,
                   now() - i * interval '1 second', i %% 50 = 0, ''
            FROM generate_series(1, %s) AS i
            """,
            [missing],
        )
        cursor.execute("ANALYZE generations_generation")
    print(f"  {missing:,} generations in {time.monotonic() - started:.0f} s")


def _seed_ratings(raters: list) -> None:
    """RATINGS ratings: two raters each for every twentieth image (spread over the whole million)."""
    if Rating.objects.count() >= RATINGS:
        return
    print(f"seeding {RATINGS:,} ratings in SQL (once)…")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO reviews_rating (generation_id, user_id, value, updated_at)
            SELECT image.id, (%(raters)s::bigint[])[(image.n + pair) %% %(count)s + 1],
                   1 + abs(hashtext(image.id::text || pair::text)) %% 5, now()
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM generations_generation
                  WHERE id %% 20 = 0 ORDER BY id LIMIT %(images)s) AS image,
                 generate_series(0, 1) AS pair
            ON CONFLICT DO NOTHING
            """,
            {"raters": [user.pk for user in raters], "count": len(raters), "images": RATINGS // 2},
        )
        _summaries(cursor)


def _summaries(cursor: CursorWrapper) -> None:
    cursor.execute(
        """
        INSERT INTO reviews_ratingsummary (generation_id, count, total)
        SELECT generation_id, count(*), sum(value) FROM reviews_rating GROUP BY generation_id
        ON CONFLICT (generation_id) DO UPDATE SET count = excluded.count, total = excluded.total
        """
    )
    cursor.execute("ANALYZE reviews_rating; ANALYZE reviews_ratingsummary")


def _board(name: str, size: int, raters: list, *, newest: bool) -> Board:
    """A board of `size` of the newest (or the oldest) images, with BOARD_RATINGS ratings and BOARD_COMMENTS
    comments spread over its images, and a few comments of its own (made once)."""
    board = Board.objects.filter(name=name).first()
    if board is not None:
        return board
    board = Board.objects.create(name=name, owner=raters[0])
    order = "-created_at" if newest else "created_at"
    images = list(Generation.objects.order_by(order).values_list("pk", flat=True)[:size])
    BoardItem.objects.bulk_create(
        BoardItem(board=board, generation_id=pk, position=position)
        for position, pk in enumerate(images, start=1)
    )
    Rating.objects.bulk_create(
        (
            Rating(
                generation_id=images[index % size],
                user=raters[index // size % len(raters)],
                value=index % 5 + 1,
            )
            for index in range(min(BOARD_RATINGS, size * len(raters)))
        ),
        ignore_conflicts=True,
    )
    Comment.objects.bulk_create(
        [
            *(
                Comment(
                    generation_id=images[index % size],
                    user=raters[index % len(raters)],
                    text=f"Comment {index}",
                )
                for index in range(min(BOARD_COMMENTS, size * 4))
            ),
            *(Comment(board=board, user=raters[index], text=f"On the board {index}") for index in range(10)),
        ]
    )
    with connection.cursor() as cursor:
        _summaries(cursor)
    return board


if __name__ == "__main__":
    run(main)
