"""The gallery by ratings: its filters (a board, my rating, the team's mean) and its two orders (the team's mean,
my rating), each a keyset pagination in one query per page, fast at a million images.

An order pages the rated images first, from the highest, by an index of their own (the summaries' mean, a
person's ratings), then the unrated ones newest first by the gallery's own index. A cursor names its phase:
"r.<key>.<public id>" among the rated, "n.<microseconds>.<public id>" among the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from generations.models import Generation, is_public_id
from reviews.models import BoardItem, Rating, RatingSummary
from reviews.people import Person
from reviews.selectors import person_filter

RATED, NEWEST = "r", "n"


@dataclass(frozen=True, slots=True)
class RatingOrder:
    """Rated images by a key (the team's mean in thousandths, or a person's stars), then the unrated ones."""

    rated: Q  # which images have the key
    key: str  # the key's path from a generation
    tiebreak: str  # a unique, indexed path beside the key (the generation's id, as the index has it)

    def page(
        self, generations: QuerySet[Generation], after: str, page_size: int
    ) -> tuple[list[Generation], str | None, str | None]:
        phase, key, public_id = _cursor(after)
        rows: list[Generation] = []
        if phase != NEWEST:
            rated = (
                generations.filter(self.rated)
                .annotate(sort_key=F(self.key))
                .order_by(F(self.key).desc(), F(self.tiebreak).desc())
            )
            if phase == RATED:
                place = Subquery(Generation.objects.filter(public_id=public_id).values("pk")[:1])
                rated = rated.filter(Q(sort_key__lt=key) | Q(sort_key=key, pk__lt=place))
            rows = list(rated[: page_size + 1])
            if len(rows) > page_size:
                rows = rows[:page_size]
                return rows, _rated_cursor(rows[-1]), _rated_cursor(rows[-1])
        unrated = generations.exclude(self.rated).order_by("-created_at", "-public_id")
        if phase == NEWEST:
            created_at = datetime.fromtimestamp(key / 1_000_000, tz=UTC)
            unrated = unrated.filter(
                Q(created_at__lt=created_at) | Q(created_at=created_at, public_id__lt=public_id)
            )
        room = page_size - len(rows)
        more = list(unrated[: room + 1])
        rows += more[:room]
        end = _cursor_of(rows[-1]) if rows else None
        return rows, end if len(more) > room else None, end


def _rated_cursor(generation: Generation) -> str:
    return f"{RATED}.{_sort_key(generation)}.{generation.public_id}"


def _sort_key(generation: Generation) -> int | None:
    """The key a rated image was ordered by (the rated phase's query annotates it), or None."""
    return generation.__dict__.get("sort_key")


def _cursor_of(generation: Generation) -> str:
    if _sort_key(generation) is not None:
        return _rated_cursor(generation)
    micros = round(generation.created_at.timestamp() * 1_000_000)
    return f"{NEWEST}.{micros}.{generation.public_id}"


def _cursor(cursor: str) -> tuple[str, int, str]:
    """The phase, key and public id a cursor names; ("", 0, "") for none or a mangled one (the first page)."""
    phase, _, rest = cursor.partition(".")
    key, _, public_id = rest.partition(".")
    if phase not in (RATED, NEWEST) or not key.isdigit() or len(key) > 18 or not is_public_id(public_id):
        return "", 0, ""
    return phase, int(key), public_id


def team_mean_order() -> RatingOrder:
    return RatingOrder(
        rated=Q(rating_summary__isnull=False),
        key="rating_summary__mean_milli",
        tiebreak="rating_summary__generation",
    )


def my_rating_order(person: Person) -> RatingOrder | None:
    mine = person_filter(person, prefix="ratings__")
    if mine is None:
        return None
    return RatingOrder(rated=mine, key="ratings__value", tiebreak="ratings__generation")


def narrowed(
    generations: QuerySet[Generation], *, person: Person, board: str, mine: str, min_mean: int
) -> QuerySet[Generation]:
    """The images on a board (its public id), that `person` rated (or not, or at least N stars), whose team mean
    is at least `min_mean` stars."""
    if board:
        generations = generations.filter(
            Exists(BoardItem.objects.filter(board__public_id=board, generation=OuterRef("pk")))
        )
    if mine:
        by_person = person_filter(person)
        rated = (
            Rating.objects.filter(by_person, generation=OuterRef("pk"))
            if by_person is not None
            else Rating.objects.none()
        )
        if mine == "unrated":
            generations = generations.exclude(Exists(rated))
        else:
            generations = generations.filter(
                Exists(rated.filter(value__gte=int(mine) if mine.isdigit() else 1))
            )
    if min_mean:
        generations = generations.filter(
            Exists(RatingSummary.objects.filter(generation=OuterRef("pk"), mean_milli__gte=min_mean * 1000))
        )
    return generations
