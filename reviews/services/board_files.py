"""A board's files: its preview (a 2×2 composite of its first images, for link unfurls and the boards page), the
ZIP of its originals, and the CSV of its images (or of a gallery filter's) with everyone's ratings."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count, QuerySet
from PIL import Image, ImageOps

from generations.models import Generation
from generations.services.generation_files import generations_zip
from reviews.models import Board, Comment, Rating
from reviews.selectors import board_cover, live_board_items

PREVIEW_SIZE = (1200, 630)  # what chat tools and social sites show best for a large image card
PREVIEW_BACKGROUND = (35, 38, 46)
PREVIEW_GAP = 6


def board_preview_png(*, board: Board) -> str:
    """The name of the board's preview in storage: its first four images as a 2×2 composite, made once per set
    of images (from the originals, so that it stays crisp on a large card)."""
    cover = board_cover(board=board)
    key = hashlib.sha256(json.dumps([generation.image_sha256 for generation in cover]).encode()).hexdigest()
    name = f"board-previews/{key[:2]}/{key}.png"
    if default_storage.exists(name):
        return name
    canvas = Image.new("RGB", PREVIEW_SIZE, PREVIEW_BACKGROUND)
    cell = ((PREVIEW_SIZE[0] - PREVIEW_GAP) // 2, (PREVIEW_SIZE[1] - PREVIEW_GAP) // 2)
    for index, generation in enumerate(cover):
        with generation.image.open("rb") as file, Image.open(file) as image:
            picture = ImageOps.fit(image.convert("RGB"), cell, Image.Resampling.LANCZOS)
        column, row = index % 2, index // 2
        canvas.paste(picture, (column * (cell[0] + PREVIEW_GAP), row * (cell[1] + PREVIEW_GAP)))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return default_storage.save(name, ContentFile(buffer.getvalue()))


def board_zip(*, board: Board, share_url_of: Callable[[Generation], str]) -> tempfile.SpooledTemporaryFile:
    """The originals of the board's images in its order, each PNG carrying its parameters."""
    items = live_board_items(board).filter(generation__status="succeeded").select_related("generation")
    numbered = {item.generation_id: number for number, item in enumerate(items, start=1)}
    return generations_zip(
        generations=[item.generation for item in items],
        file_name_of=lambda generation: f"{numbered[generation.pk]:03d}-{generation.public_id}.png",
        share_url_of=share_url_of,
    )


# --- CSV ---------------------------------------------------------------------------------------------------

# Until generations record what they cost (the limits work adds it), the column stays, empty, and says so.
COST_HEADER = "cost (not recorded yet)"
CSV_MAX_ROWS = 10_000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def generation_cost(generation: Generation) -> str:
    """What making the image cost, as the CSV shows it: the one place to read it from once it is recorded."""
    return ""


@dataclass(frozen=True, slots=True)
class ExportRow:
    generation: Generation
    review_status: str = ""


def board_csv(*, board: Board, share_url_of: Callable[[Generation], str]) -> str:
    """The board's images in its order: parameters, cost, each person's rating, the mean, review status and
    comment count."""
    items = live_board_items(board).select_related("generation")
    return _csv(
        [ExportRow(item.generation, item.get_review_status_display()) for item in items], share_url_of
    )


def generations_csv(*, generations: QuerySet[Generation], share_url_of: Callable[[Generation], str]) -> str:
    """The same CSV for any set of images (a gallery filter's), at most CSV_MAX_ROWS of them."""
    return _csv([ExportRow(generation) for generation in generations[:CSV_MAX_ROWS]], share_url_of)


def _csv(rows: list[ExportRow], share_url_of: Callable[[Generation], str]) -> str:
    generations = [row.generation for row in rows]
    ratings = _ratings_by_person(generations)
    comments = _comment_counts(generations)
    people = sorted(ratings, key=str.casefold)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "image",
            "link",
            "prompt",
            "revised prompt",
            "seed",
            "size",
            "extend",
            COST_HEADER,
            *(_cell(f"rating: {person}") for person in people),
            "mean rating",
            "ratings",
            "review status",
            "comments",
        ]
    )
    for row in rows:
        generation = row.generation
        values = [ratings[person].get(generation.pk) for person in people]
        given = [value for value in values if value is not None]
        writer.writerow(
            [
                generation.public_id,
                share_url_of(generation),
                _cell(generation.prompt),
                _cell(generation.revised_prompt),
                generation.seed,
                generation.size,
                "on" if generation.prompt_extend else "off",
                generation_cost(generation),
                *("" if value is None else value for value in values),
                f"{sum(given) / len(given):.2f}" if given else "",
                len(given),
                row.review_status,
                comments.get(generation.pk, 0),
            ]
        )
    return out.getvalue()


def _ratings_by_person(generations: Iterable[Generation]) -> dict[str, dict[int, int]]:
    """Each person's ratings of these images: {person's column name: {generation id: stars}}."""
    by_person: dict[str, dict[int, int]] = {}
    for rating in Rating.objects.filter(generation__in=list(generations)).select_related("user", "guest"):
        by_person.setdefault(_column(rating), {})[rating.generation_id] = rating.value
    return by_person


def _column(rating: Rating) -> str:
    """A person's column: a user by name, a guest by the name given and the start of their id (names repeat)."""
    if rating.user is not None:
        return rating.user.get_username()
    assert rating.guest is not None  # a rating is by a user or a guest
    return f"{rating.guest} (guest {rating.guest.public_id[:4]})"


def _comment_counts(generations: Iterable[Generation]) -> dict[int, int]:
    return dict(
        Comment.objects.filter(generation__in=list(generations), deleted_at__isnull=True)
        .values_list("generation_id")
        .annotate(count=Count("*"))
        .values_list("generation_id", "count")
    )


def _cell(text: str) -> str:
    """Text a spreadsheet will show as text: a leading =, +, -, @ would make it a formula (CSV injection)."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text
