"""What the reviews add to generations (registered in ReviewsConfig.ready, called by generations through
generations/hooks.py): "Add to board" on the form and the batch form, and `board` in a /v1 body, so that the
images land on that board as they are made; the gallery's filters and orders by board and ratings; and a board's
images for whoever takes a set of images (a judging round from a board)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django import forms
from django.contrib.auth.models import AnonymousUser, User
from django.http import Http404, HttpRequest

from generations.hooks import GalleryExtra, GalleryRefinement, GenerationExtra, ImageSet
from generations.models import Generation, is_public_id
from reviews.gallery_order import my_rating_order, narrowed, team_mean_order
from reviews.http import acting_person, board_for, person_of, smart_board_images
from reviews.models import Board
from reviews.people import Person
from reviews.selectors import boards_to_add_to, live_board_items
from reviews.services.boards import BoardRefused, board_items_add


@dataclass(frozen=True, slots=True)
class BoardTarget:
    board: Board
    person: Person


def board_field(request: HttpRequest) -> forms.Field:
    """The "Add to board" field, offering the boards the person may add to."""
    boards = boards_to_add_to(person=person_of(request))
    return forms.ChoiceField(
        required=False,
        label="Add to board",
        choices=[("", "No board"), *((board.public_id, board.name) for board in boards)],
        help_text="The images land on this board as they are made."
        if boards
        else "Make a board on the Boards page, and images can land on it as they are made.",
    )


def board_from_form(request: HttpRequest, value: object) -> BoardTarget | None:
    if not value:
        return None
    person = person_of(request)
    board = next((board for board in boards_to_add_to(person=person) if board.public_id == value), None)
    if board is None:
        raise ValueError("That board is not one you can add to any more.")
    return BoardTarget(board, acting_person(request))


def board_from_api(value: object, user: User | AnonymousUser) -> BoardTarget:
    """The board a /v1 body names, by its public id or its name (the most recently changed of that name)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("board must be the name or the id of one of your boards.")
    person = Person(user=user) if user.is_authenticated else Person()
    boards = boards_to_add_to(person=person)
    wanted = value.strip()
    board = next((board for board in boards if board.public_id == wanted), None) or next(
        (board for board in boards if board.name.casefold() == wanted.casefold()), None
    )
    if board is None:
        raise ValueError(f"None of your boards is called {wanted[:100]!r}.")
    return BoardTarget(board, person)


def board_attach(target: BoardTarget | None, generations: Sequence[Generation]) -> None:
    if target is None:
        return
    try:
        board_items_add(board=target.board, generations=list(generations), person=target.person)
    except BoardRefused as err:
        raise ValueError(str(err)) from err


BOARD_EXTRA = GenerationExtra(
    name="board",
    form_field=board_field,
    from_form=board_from_form,
    from_api=board_from_api,
    attach=board_attach,
)


GALLERY_SORTS = [
    ("", "Newest first"),
    ("mean", "Team mean, highest first"),
    ("mine", "My rating, highest first"),
]
MY_RATING_CHOICES = [
    ("", "Rated by me or not"),
    ("unrated", "Not rated by me"),
    ("rated", "Rated by me"),
    *((str(stars), f"I gave {stars}★ and up") for stars in range(2, 6)),
]


def gallery_fields() -> dict[str, forms.Field]:
    boards = (
        Board.objects.filter(smart_query="").order_by("-updated_at").values_list("public_id", "name")[:200]
    )
    return {
        "board": forms.ChoiceField(required=False, label="Board", choices=[("", "Any board"), *boards]),
        "rated": forms.ChoiceField(required=False, label="My rating", choices=MY_RATING_CHOICES),
        "mean": forms.TypedChoiceField(
            required=False,
            coerce=int,
            empty_value=None,
            label="Team mean",
            choices=[("", "Any mean"), *((str(stars), f"{stars}★ and up") for stars in range(1, 6))],
        ),
        "sort": forms.ChoiceField(required=False, label="Sort", choices=GALLERY_SORTS),
    }


def gallery_refinement(request: HttpRequest, values: dict) -> GalleryRefinement | None:
    """The gallery narrowed to a board or by ratings, and ordered by the team's mean or the person's rating."""
    person = person_of(request)
    board, mine, min_mean = values.get("board") or "", values.get("rated") or "", values.get("mean") or 0
    order = {"mean": team_mean_order, "mine": lambda: my_rating_order(person)}.get(values.get("sort") or "")
    rating_order = order() if order else None
    if not (board or mine or min_mean or rating_order):
        return None
    return GalleryRefinement(
        narrow=(
            lambda generations: narrowed(
                generations, person=person, board=board, mine=mine, min_mean=min_mean
            )
        )
        if board or mine or min_mean
        else None,
        page=rating_order.page if rating_order else None,
    )


GALLERY_EXTRA = GalleryExtra(fields=gallery_fields, refinement=gallery_refinement)


def board_image_set(request: HttpRequest, public_id: str) -> ImageSet:
    """A board's images in its order (a smart board's as its filters match them now), for whoever may see it."""
    if not is_public_id(public_id):
        raise Http404("No such board.")
    board = board_for(request, public_id).board
    if board.is_smart:
        generations = list(smart_board_images(board, request))
    else:
        generations = [item.generation for item in live_board_items(board).select_related("generation")]
    return ImageSet(
        described_as=f"Board: {board.name}", url=board.get_absolute_url(), generations=generations
    )
