"""Use cases of a board: make it (plain or smart), rename it, delete it (never its images); add, remove and order
its images; its members; each image's review status there, and where each person was in the review."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from generations.models import Generation
from generations.services.events import event_announce
from reviews.domain import ReviewStatus
from reviews.models import Board, BoardItem, ReviewPlace
from reviews.people import Person
from reviews.selectors import live_board_items


class BoardRefused(Exception):
    """What was asked of a board cannot be done; the message says why, for people."""


def board_create(*, person: Person, name: str, description: str = "", smart_query: str = "") -> Board:
    """A new board owned by `person` (a smart one when `smart_query` holds the gallery's filters)."""
    return Board.objects.create(
        name=name,
        description=description,
        smart_query=smart_query,
        owner=person.user,
        owner_guest=person.guest,
    )


def board_update(*, board: Board, name: str, description: str, smart_query: str | None = None) -> Board:
    board.name, board.description = name, description
    if smart_query is not None and board.is_smart:
        board.smart_query = smart_query
    board.updated_at = timezone.now()
    board.save(update_fields=["name", "description", "smart_query", "updated_at"])
    _announce(board)
    return board


def board_delete(*, board: Board) -> None:
    """Delete the board with its share links, comments and review statuses; its images stay in the gallery."""
    _announce(board)
    board.delete()


def board_items_add(*, board: Board, generations: list[Generation], person: Person) -> int:
    """Put these images at the end of the board, in this order (those already on it stay where they are);
    how many were added. Refused past BOARD_MAX_IMAGES, counted under the board's lock so that simultaneous
    additions cannot pass it together."""
    if board.is_smart:
        raise BoardRefused("A smart board fills itself from its filters; add images to a plain board.")
    with transaction.atomic():
        Board.objects.select_for_update().filter(pk=board.pk).first()
        present = set(board.items.values_list("generation_id", flat=True))
        new = [generation for generation in dict.fromkeys(generations) if generation.pk not in present]
        if len(present) + len(new) > settings.BOARD_MAX_IMAGES:
            raise BoardRefused(
                f"A board holds at most {settings.BOARD_MAX_IMAGES:,} images; this one has {len(present):,}."
            )
        last = board.items.aggregate(last=Max("position"))["last"] or 0
        BoardItem.objects.bulk_create(
            BoardItem(board=board, generation=generation, position=last + offset, added_by=person.user)
            for offset, generation in enumerate(new, start=1)
        )
        _touch(board)
    return len(new)


def board_items_remove(*, board: Board, generations: list[Generation]) -> int:
    """Take these images off the board (they stay in the gallery); how many were on it."""
    with transaction.atomic():
        removed, _ = board.items.filter(generation__in=generations).delete()
        _touch(board)
    return removed


def board_item_move(*, board: Board, generation: Generation, to_index: int) -> None:
    """Move an image to `to_index` in the board's order (0 first; past the end, last): drag and drop, or the
    keyboard's move earlier and later."""
    with transaction.atomic():
        Board.objects.select_for_update().filter(pk=board.pk).first()
        items = list(live_board_items(board).only("pk", "position", "generation_id"))
        moving = next((item for item in items if item.generation_id == generation.pk), None)
        if moving is None:
            raise BoardRefused("That image is not on this board.")
        items.remove(moving)
        items.insert(max(0, min(to_index, len(items))), moving)
        changed = []
        for position, item in enumerate(items, start=1):
            if item.position != position:
                item.position = position
                changed.append(item)
        BoardItem.objects.bulk_update(changed, ["position"])
        _touch(board)


def board_member_add(*, board: Board, username: str) -> None:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise BoardRefused(f"Nobody here is called {username!r}.")
    board.members.add(user)
    _touch(board)


def board_member_remove(*, board: Board, username: str) -> None:
    board.members.remove(*board.members.filter(username=username))
    _touch(board)


def board_review_set(
    *, board: Board, generation: Generation, status: ReviewStatus, person: Person
) -> BoardItem:
    """Mark an image of the board approved, rejected or back to needs review, saying who and when."""
    with transaction.atomic():
        item = board.items.select_for_update().filter(generation=generation).first()
        if item is None:
            raise BoardRefused("That image is not on this board.")
        reviewed = status != ReviewStatus.NEEDS_REVIEW
        item.review_status = status
        item.reviewed_by = person.user if reviewed else None
        item.reviewed_by_guest = person.guest if reviewed else None
        item.reviewed_at = timezone.now() if reviewed else None
        item.save(update_fields=["review_status", "reviewed_by", "reviewed_by_guest", "reviewed_at"])
        _touch(board, about=generation.public_id)
    return item


def review_place_remember(*, board: Board, generation: Generation, person: Person) -> None:
    """Where `person` is in the board's review, so that review mode opens there next time."""
    if person.is_someone:
        ReviewPlace.objects.update_or_create(
            board=board, **person.as_author, defaults={"generation": generation, "updated_at": timezone.now()}
        )


def _touch(board: Board, *, about: str = "") -> None:
    Board.objects.filter(pk=board.pk).update(updated_at=timezone.now())
    _announce(board, about=about)


def _announce(board: Board, *, about: str = "") -> None:
    """Tell the board's open pages it changed: one image of it (`about`), or its images as a whole."""
    event_announce(topic=board.public_id, kind="board", about=about)
