"""Ratings: each person's stars for an image, and the image's summary of everyone's (count, total, mean)."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from generations.models import Generation
from generations.services.events import event_announce
from reviews.domain import validate_rating
from reviews.models import Rating, RatingSummary
from reviews.people import Person
from reviews.selectors import generations_in_boards, person_filter

# pg_advisory_xact_lock's first key for ratings ("rate" in ASCII); the second is the image's id.
_RATINGS_LOCK = 0x72617465


def rating_set(*, generation: Generation, person: Person, value: int) -> RatingSummary | None:
    """Set `person`'s rating of an image (0 clears it) and its summary; the summary after (None: unrated).

    Ratings of one image are written one at a time (an advisory lock on the image until the commit), and the
    summary is counted again from the ratings after the lock is taken, so that simultaneous ratings of one
    image, by anyone, leave the count and mean exact.
    """
    value = validate_rating(value)
    mine = person_filter(person)
    if mine is None:
        raise ValueError("Only a person can rate.")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_RATINGS_LOCK, generation.pk % 2**31])
        if value:
            Rating.objects.update_or_create(
                generation=generation,
                **person.as_author,
                defaults={"value": value, "updated_at": timezone.now()},
            )
        else:
            Rating.objects.filter(mine, generation=generation).delete()
        summary = _summary_count_again(generation)
        for topic in (generation.public_id, *generations_in_boards(generations=[generation])):
            event_announce(topic=topic, kind="ratings", about=generation.public_id)
    return summary


def _summary_count_again(generation: Generation) -> RatingSummary | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH counted AS (
                SELECT count(*) AS count, coalesce(sum(value), 0) AS total
                FROM {Rating._meta.db_table} WHERE generation_id = %(id)s
            ), gone AS (
                DELETE FROM {RatingSummary._meta.db_table}
                WHERE generation_id = %(id)s AND (SELECT count FROM counted) = 0
            )
            INSERT INTO {RatingSummary._meta.db_table} (generation_id, count, total)
            SELECT %(id)s, count, total FROM counted WHERE count > 0
            ON CONFLICT (generation_id) DO UPDATE SET count = excluded.count, total = excluded.total
            """,  # noqa: S608 (table names from the models; values as parameters)
            {"id": generation.pk},
        )
    return RatingSummary.objects.filter(generation=generation).first()
