"""Reads: boards and what each person may do with them, a board's images with everyone's ratings and comment
counts, review progress, comment threads, the inbox, share links."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber

from generations.models import Generation
from reviews.domain import MAX_RATING, MIN_RATING, ReviewStatus
from reviews.models import (
    Board,
    BoardItem,
    BoardShareLink,
    Comment,
    Guest,
    Mention,
    Rating,
    RatingSummary,
    ReviewPlace,
)
from reviews.people import Person

# What a board's tile shows of its image: the search vector and long provider texts stay in the database.
ITEM_GENERATION_FIELDS = (
    "generation__public_id",
    "generation__prompt",
    "generation__width",
    "generation__height",
    "generation__aspect_ratio",
    "generation__seed",
    "generation__status",
    "generation__thumbnail",
    "generation__deleted_at",
    "generation__created_at",
)


def guest_of_session(session_key: str) -> Guest | None:
    return Guest.objects.filter(session_key=session_key).first() if session_key else None


def person_filter(person: Person, prefix: str = "") -> Q | None:
    """The rows `person` wrote, as a filter (None for nobody)."""
    if person.user is not None:
        return Q(**{f"{prefix}user": person.user})
    if person.guest is not None:
        return Q(**{f"{prefix}guest": person.guest})
    return None


# --- Who may do what ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardAccess:
    may_view: bool
    may_rate_and_comment: bool
    may_edit: bool  # add, remove, order and review its images
    may_manage: bool  # rename, describe, delete; its share links and members


def board_access(*, board: Board, person: Person) -> BoardAccess:
    """What `person` may do with `board` on its own pages (share links grant their own, narrower rights).

    Anyone signed in (on an open instance, anyone) sees every board, rates and comments; the owner and the
    members edit its images; the owner and staff manage it.
    """
    open_instance = not settings.REQUIRE_LOGIN
    manages = person.is_staff or (
        (person.user is not None and board.owner_id == person.user.pk)
        or (person.guest is not None and board.owner_guest_id == person.guest.pk)
    )
    member = person.user is not None and not manages and board.members.filter(pk=person.user.pk).exists()
    signed_in = person.user is not None
    return BoardAccess(
        may_view=signed_in or open_instance,
        may_rate_and_comment=signed_in or open_instance,
        may_edit=manages or member,
        may_manage=manages,
    )


def comment_may_be_edited_by(comment: Comment, person: Person) -> bool:
    return not comment.is_deleted and person.is_someone and person.wrote(comment)


def comment_may_be_deleted_by(comment: Comment, person: Person) -> bool:
    return not comment.is_deleted and (person.is_staff or (person.is_someone and person.wrote(comment)))


# --- Boards ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardSummary:
    board: Board
    images: int
    cover: list[Generation]


BOARD_LIST_MAX = 200
COVER_IMAGES = 4


def boards_list(*, limit: int = BOARD_LIST_MAX) -> list[BoardSummary]:
    """Boards, the most recently changed first, each with its image count and its first images. Two queries."""
    boards = list(
        Board.objects.select_related("owner", "owner_guest")
        .annotate(
            images=Count("items", filter=Q(items__generation__deleted_at__isnull=True)),
        )
        .order_by("-updated_at", "-public_id")[:limit]
    )
    covers: dict[int, list[Generation]] = {board.pk: [] for board in boards}
    for item in _first_items(boards):
        covers[item.board_id].append(item.generation)
    return [BoardSummary(board, board.images, covers[board.pk]) for board in boards]


def _first_items(boards: Sequence[Board]) -> QuerySet[BoardItem]:
    """The first few live images of each board, in one query (a window over the boards' items)."""
    return (
        BoardItem.objects.filter(
            board__in=boards, generation__deleted_at__isnull=True, generation__status="succeeded"
        )
        .select_related("generation")
        .only("board_id", "position", *ITEM_GENERATION_FIELDS)
        .annotate(rank=Window(RowNumber(), partition_by=[F("board_id")], order_by=F("position").asc()))
        .filter(rank__lte=COVER_IMAGES)
        .order_by("board_id", "position")
    )


def boards_to_add_to(*, person: Person) -> list[Board]:
    """The boards `person` may add images to (theirs, those they are a member of; staff: all), newest first."""
    boards = Board.objects.filter(smart_query="").order_by("-updated_at", "-public_id")
    if person.is_staff:
        return list(boards[:BOARD_LIST_MAX])
    if person.user is not None:
        mine = Q(owner=person.user) | Q(members=person.user)
    elif person.guest is not None:
        mine = Q(owner_guest=person.guest)
    else:
        return []
    return list(boards.filter(mine).distinct()[:BOARD_LIST_MAX])


def board_cover(*, board: Board) -> list[Generation]:
    """A board's first images with a picture, for its preview."""
    return [item.generation for item in _first_items([board])]


# --- Ratings and comments on images ------------------------------------------------------------------------


def with_ratings_and_comments[Q_: QuerySet](queryset: Q_, *, person: Person, generation: str = "pk") -> Q_:
    """`queryset` with each row's image's team count and total of stars, `person`'s own rating (None when they
    gave none) and its comment count, as subqueries: one query whatever the number of rows."""
    summary = RatingSummary.objects.filter(generation=OuterRef(generation))
    mine = person_filter(person)
    my_rating = (
        Subquery(Rating.objects.filter(mine, generation=OuterRef(generation)).values("value")[:1])
        if mine is not None
        else Value(None, output_field=IntegerField())
    )
    comments = (
        Comment.objects.filter(generation=OuterRef(generation), deleted_at__isnull=True)
        .order_by()
        .values("generation")
        .annotate(count=Count("*"))
        .values("count")
    )
    return queryset.annotate(
        team_count=Coalesce(Subquery(summary.values("count")), 0),
        team_total=Coalesce(Subquery(summary.values("total")), 0),
        my_rating=my_rating,
        comment_count=Coalesce(Subquery(comments), 0),
    )


@dataclass(frozen=True, slots=True)
class RatingPanel:
    generation: Generation
    mine: int | None
    count: int
    total: int

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def stars(self) -> list[tuple[int, bool]]:
        """Each star of the scale, and whether the person's own rating fills it."""
        return [(star, (self.mine or 0) >= star) for star in range(MIN_RATING, MAX_RATING + 1)]


def rating_panel(*, generation: Generation, person: Person) -> RatingPanel:
    summary = RatingSummary.objects.filter(generation=generation).first()
    mine = person_filter(person)
    my_value = (
        Rating.objects.filter(mine, generation=generation).values_list("value", flat=True).first()
        if mine is not None
        else None
    )
    return RatingPanel(
        generation=generation,
        mine=my_value,
        count=summary.count if summary else 0,
        total=summary.total if summary else 0,
    )


@dataclass(slots=True)
class Thread:
    comment: Comment
    replies: list[Comment] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        """A deleted comment still holds its thread's replies; alone, it goes."""
        return not self.comment.is_deleted or any(not reply.is_deleted for reply in self.replies)


COMMENTS_SHOWN = 500


def comment_threads(*, generation: Generation | None = None, board: Board | None = None) -> list[Thread]:
    """The comments on an image or on a board as threads, oldest first, each with its replies. One query."""
    comments = Comment.objects.filter(_on(generation, board))
    threads: dict[int, Thread] = {}
    replies: list[Comment] = []
    for comment in comments.select_related("user", "guest").order_by("created_at", "public_id")[
        :COMMENTS_SHOWN
    ]:
        if comment.parent_id is None:
            threads[comment.pk] = Thread(comment)
        else:
            replies.append(comment)
    for reply in replies:
        if reply.parent_id in threads:
            threads[reply.parent_id].replies.append(reply)
    return [thread for thread in threads.values() if thread.shown]


def comment_count(*, generation: Generation | None = None, board: Board | None = None) -> int:
    return Comment.objects.filter(_on(generation, board), deleted_at__isnull=True).count()


def _on(generation: Generation | None, board: Board | None) -> Q:
    """The comments on an image, or else on a board."""
    return Q(generation=generation) if generation is not None else Q(board=board, generation__isnull=True)


# --- A board's images --------------------------------------------------------------------------------------

BOARD_SORTS = {
    "position": "In board order",
    "mean": "Team mean, highest first",
    "mine": "My rating, highest first",
}


@dataclass(frozen=True, slots=True)
class BoardItemFilters:
    sort: str = "position"
    min_mean: int = 0  # stars: at least this team mean
    mine: str = ""  # "" any, "rated", "unrated", or "1"…"5": my rating at least that
    status: str = ""  # a ReviewStatus value, or "" for any


@dataclass(frozen=True, slots=True)
class ReviewProgress:
    total: int
    approved: int
    rejected: int

    @property
    def reviewed(self) -> int:
        return self.approved + self.rejected

    @property
    def finished(self) -> bool:
        return self.reviewed >= self.total

    def __str__(self) -> str:
        return f"{self.reviewed} of {self.total} reviewed, {self.approved} approved"


def live_board_items(board: Board) -> QuerySet[BoardItem]:
    """A board's items whose image is not deleted, in the board's order."""
    return board.items.filter(generation__deleted_at__isnull=True).order_by("position", "pk")


BOARD_PAGE_SIZE = 60


def board_items(
    *,
    board: Board,
    person: Person,
    filters: BoardItemFilters | None = None,
    offset: int = 0,
    limit: int | None = None,
    public_id: str = "",
) -> list[BoardItem]:
    """A board's images with their ratings (the team's, `person`'s), comment counts and review status, sorted
    and filtered as asked, `limit` of them from `offset` (or the one image named by `public_id`). One query,
    whatever the board's size."""
    filters = filters or BoardItemFilters()
    items = with_ratings_and_comments(
        live_board_items(board)
        .select_related("generation", "reviewed_by", "reviewed_by_guest")
        .only(
            "board_id",
            "position",
            "review_status",
            "reviewed_at",
            "reviewed_by__username",
            "reviewed_by_guest__name",
            "reviewed_by_guest__public_id",
            *ITEM_GENERATION_FIELDS,
        ),
        person=person,
        generation="generation",
    )
    # (Q objects: the annotations above are not fields the type checker can see.)
    if filters.min_mean:
        items = items.filter(Q(team_count__gt=0, team_total__gte=F("team_count") * filters.min_mean))
    if filters.mine == "rated":
        items = items.filter(Q(my_rating__isnull=False))
    elif filters.mine == "unrated":
        items = items.filter(Q(my_rating__isnull=True))
    elif filters.mine.isdigit():
        items = items.filter(Q(my_rating__gte=int(filters.mine)))
    if filters.status:
        items = items.filter(review_status=filters.status)
    if filters.sort == "mean":
        items = items.order_by(
            Coalesce("generation__rating_summary__mean_milli", -1).desc(), "position", "pk"
        )
    elif filters.sort == "mine":
        items = items.order_by(Coalesce("my_rating", 0).desc(), "position", "pk")
    if public_id:
        items = items.filter(generation__public_id=public_id)
    rows = list(items[offset : offset + limit] if limit is not None else items[offset:])
    for index, item in enumerate(rows, start=offset):
        item.index = index  # its place as shown: the keyboard's "move earlier / later" counts from it
    return rows


def board_item_index(item: BoardItem) -> int:
    """An image's place in its board's own order (0 first)."""
    return live_board_items(item.board).filter(position__lt=item.position).count()


def board_review_progress(*, board: Board) -> ReviewProgress:
    counts = live_board_items(board).aggregate(
        total=Count("pk"),
        approved=Count("pk", filter=Q(review_status=ReviewStatus.APPROVED)),
        rejected=Count("pk", filter=Q(review_status=ReviewStatus.REJECTED)),
    )
    return ReviewProgress(**counts)


# --- Review mode -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewStep:
    """Where a person stands in a board's review: the image shown, its neighbours, and what is left."""

    item: BoardItem | None  # None: the board has no images
    previous: str | None  # public ids
    next: str | None
    next_unreviewed: str | None
    index: int
    progress: ReviewProgress


def review_step(*, board: Board, person: Person, at: str = "") -> ReviewStep:
    """The image review mode shows: the one asked for (`at`, a public id), else where `person` was last, else
    the first that needs review; with the order around it and the review's progress."""
    order = list(live_board_items(board).values_list("generation__public_id", "review_status"))
    public_ids = [public_id for public_id, _ in order]
    unreviewed = {public_id for public_id, status in order if status == ReviewStatus.NEEDS_REVIEW}
    if at not in public_ids:
        at = _last_place(board, person) or ""
    if at not in public_ids:
        at = next((public_id for public_id in public_ids if public_id in unreviewed), "")
    if not at and public_ids:
        at = public_ids[0]
    progress = ReviewProgress(
        total=len(order),
        approved=sum(status == ReviewStatus.APPROVED for _, status in order),
        rejected=sum(status == ReviewStatus.REJECTED for _, status in order),
    )
    if not at:
        return ReviewStep(None, None, None, None, 0, progress)
    index = public_ids.index(at)
    after = public_ids[index + 1 :] + public_ids[:index]
    item = with_ratings_and_comments(
        live_board_items(board)
        .filter(generation__public_id=at)
        .select_related("generation", "reviewed_by", "reviewed_by_guest"),
        person=person,
        generation="generation",
    ).get()
    return ReviewStep(
        item=item,
        previous=public_ids[index - 1] if index > 0 else None,
        next=public_ids[index + 1] if index + 1 < len(public_ids) else None,
        next_unreviewed=next((public_id for public_id in after if public_id in unreviewed), None),
        index=index,
        progress=progress,
    )


def _last_place(board: Board, person: Person) -> str | None:
    mine = person_filter(person)
    if mine is None:
        return None
    return (
        ReviewPlace.objects.filter(mine, board=board).values_list("generation__public_id", flat=True).first()
    )


# --- Share links, the inbox --------------------------------------------------------------------------------


def share_link_by_token(token: str) -> BoardShareLink | None:
    """The share link with this token if it is switched on (a link switched off or deleted is gone at once)."""
    return BoardShareLink.objects.select_related("board").filter(token=token, is_active=True).first()


def unseen_mention_count(*, user: User) -> int:
    return Mention.objects.filter(user=user, seen_at__isnull=True).count()


INBOX_SIZE = 100


def inbox(*, user: User) -> list[Mention]:
    """The user's latest mentions with the comment and what it is about."""
    return list(
        Mention.objects.filter(user=user, comment__deleted_at__isnull=True)
        .select_related("comment", "comment__user", "comment__guest", "comment__generation", "comment__board")
        .order_by("-created_at")[:INBOX_SIZE]
    )


def batch_means(*, batch_public_id: str) -> dict[str, tuple[int, int]]:
    """The team's (total, count) of stars for each rated live image of a batch, by public id. One query."""
    return {
        public_id: (total, count)
        for public_id, total, count in RatingSummary.objects.filter(
            generation__batch__public_id=batch_public_id, generation__deleted_at__isnull=True
        ).values_list("generation__public_id", "total", "count")
    }


def generations_in_boards(*, generations: Iterable[Generation]) -> list[str]:
    """The public ids of the boards holding any of these images (whose pages follow their activity)."""
    return list(
        Board.objects.filter(items__generation__in=list(generations))
        .values_list("public_id", flat=True)
        .distinct()
    )
