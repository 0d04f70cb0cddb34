"""Boards: the list and a new board (plain, or smart from the gallery's filters), a board's page, adding images to
a board from anywhere, removing and ordering them, review statuses, its settings (name, members, share links),
and its exports (ZIP, CSV, preview)."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.forms import Form
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import get_script_prefix, reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from generations.forms import GalleryFilterForm
from generations.http import HtmxHttpRequest, htmx_redirect, login_required_if_configured, streamed_download
from generations.models import Generation
from generations.selectors import picked_generations
from reviews.domain import ReviewStatus
from reviews.forms import (
    AddToBoardForm,
    BoardForm,
    BoardItemFilterForm,
    BoardItemsForm,
    MemberForm,
    MoveForm,
    PickedImagesForm,
    ReviewStatusForm,
    ShareLinkForm,
)
from reviews.http import (
    BoardRequest,
    acting_person,
    board_for,
    comments_context,
    filtered_gallery,
    next_url,
    person_of,
    preview_response,
    smart_board_images,
)
from reviews.models import Board, BoardItem
from reviews.people import Person
from reviews.selectors import (
    BOARD_PAGE_SIZE,
    board_item_index,
    board_items,
    board_review_progress,
    boards_list,
    boards_to_add_to,
    with_ratings_and_comments,
)
from reviews.services.board_files import board_csv, board_zip, generations_csv
from reviews.services.boards import (
    BoardRefused,
    board_create,
    board_delete,
    board_item_move,
    board_items_add,
    board_items_remove,
    board_member_add,
    board_member_remove,
    board_review_set,
    board_update,
)
from reviews.services.links import share_link_create


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def boards(request: HtmxHttpRequest) -> HttpResponse:
    initial = {"smart_query": _smart_query(request.GET.get("smart", ""))}
    form = BoardForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        board = board_create(
            person=acting_person(request),
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            smart_query=_smart_query(form.cleaned_data["smart_query"]),
        )
        return htmx_redirect(request, board)
    context = {
        "boards": boards_list(),
        "form": form,
        "smart_filters": _smart_filter_labels(initial["smart_query"]),
    }
    return render(request, "reviews/boards.html", context, status=400 if form.errors else 200)


@require_safe
@login_required_if_configured
def board_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """A board's page, a page of its images at a time (`?offset=`: the next one, as the reader scrolls); for its
    live updates, one image's tile (`?item=`), the review progress (`?part=`), or the images (htmx's target)."""
    at = board_for(request, public_id)
    if item_id := request.GET.get("item", ""):
        return _tile(request, at, item_id)
    filter_form = BoardItemFilterForm(request.GET)
    offset = _offset(request)
    context = {**_board_context(at), "filter_form": filter_form, "offset": offset}
    if at.board.is_smart:
        images = smart_board_images(at.board, request)[offset : offset + BOARD_PAGE_SIZE + 1]
        context |= _page(request, list(with_ratings_and_comments(images, person=at.person)), offset)
        context["smart_filters"] = _smart_filter_labels(at.board.smart_query)
    else:
        in_board_order = not filter_form.has_changed()
        items = board_items(
            board=at.board,
            person=at.person,
            filters=filter_form.filters(),
            offset=offset,
            limit=BOARD_PAGE_SIZE + 1,
        )
        context |= _page(request, [_with_urls(item, at.board) for item in items], offset) | {
            "progress": board_review_progress(board=at.board) if in_board_order else None,
            "may_order": at.access.may_edit and in_board_order,
        }
        if request.GET.get("part") == "progress":
            return render(request, "reviews/board.html#board-progress", context)
    if request.htmx and offset:
        return render(request, "reviews/board.html#board-page", context)
    if request.htmx and request.htmx.target == "board-images":
        return render(request, "reviews/board.html#board-images", context)
    return render(request, "reviews/board.html", context | comments_context(request, board=at.board))


def _tile(request: HtmxHttpRequest, at: BoardRequest, public_id: str) -> HttpResponse:
    """One image's tile on its board, as a live update or a review button redraws it."""
    found = board_items(board=at.board, person=at.person, public_id=public_id)
    if not found:
        raise Http404("That image is not on this board.")
    [item] = found
    item.index = board_item_index(item)
    context = _board_context(at) | {"item": _with_urls(item, at.board), "may_order": at.access.may_edit}
    return render(request, "reviews/board.html#board-item", context)


def _offset(request: HttpRequest) -> int:
    value = request.GET.get("offset", "")
    return int(value) if value.isdigit() and len(value) < 8 else 0


def _page(request: HttpRequest, rows: list, offset: int) -> dict:
    """A page of a board's images, and the address of the next one (None after the last)."""
    more = len(rows) > BOARD_PAGE_SIZE
    query = request.GET.copy()
    query["offset"] = str(offset + BOARD_PAGE_SIZE)
    return {
        "items": rows[:BOARD_PAGE_SIZE],
        "next_url": f"{request.path}?{query.urlencode()}" if more else None,
    }


_SLOT = "--id--"


def _with_urls(item: BoardItem, board: Board) -> BoardItem:
    """The item with the addresses its tile links (reversed once per board, then filled in)."""
    public_id = item.generation.public_id
    patterns = _tile_url_patterns(board.public_id, get_script_prefix())
    item.urls = {name: pattern.replace(_SLOT, public_id) for name, pattern in patterns.items()}
    return item


@functools.lru_cache(maxsize=256)
def _tile_url_patterns(board_id: str, script_prefix: str) -> dict[str, str]:
    return {
        "status": reverse("reviews:board-status", args=[board_id, _SLOT]),
        "panel": reverse("reviews:image-panel", args=[_SLOT]),
        "rate": reverse("reviews:image-rate", args=[_SLOT]),
        "tile": f"{reverse('reviews:board', args=[board_id])}?item={_SLOT}",
    }


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def board_add(request: HtmxHttpRequest) -> HttpResponse:
    """Add images to a board: without JavaScript a page of its own, with htmx a dialog; a new board is made
    when one is named."""
    posting = request.method == "POST"
    form: PickedImagesForm = AddToBoardForm(request.POST) if posting else PickedImagesForm(request.GET)
    valid = form.is_valid()
    person = person_of(request)
    generations = picked_generations(public_ids=form.cleaned_data.get("id", []))
    context = {
        "form": form,
        "generations": generations,
        "boards": boards_to_add_to(person=person),
        "next_url": next_url(request, form.cleaned_data.get("next", "")),
    }
    if not posting or not valid:
        return _add_form(request, context, status=200 if valid else 400)
    board = _board_to_add_to(request, form, person)
    if board is None:
        form.add_error("board", "Pick one of your boards, or name a new one.")
        return _add_form(request, context, status=400)
    try:
        added = board_items_add(board=board, generations=generations, person=person)
    except BoardRefused as err:
        form.add_error(None, str(err))
        return _add_form(request, context, status=400)
    already = len(generations) - added
    message = f"{_counted(added, 'added to')} “{board.name}”." + (
        f" ({already} already there.)" if already else ""
    )
    if request.htmx:
        return render(request, "reviews/add.html#added", {"board": board, "message": message})
    messages.success(request, message)
    return HttpResponseRedirect(
        next_url(request, form.cleaned_data.get("next", "")) or board.get_absolute_url()
    )


def _add_form(request: HtmxHttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    # htmx swaps only 2xx answers: the dialog's form with its errors comes back as 200.
    if request.htmx:
        return render(request, "reviews/add.html#add-form", context)
    return render(request, "reviews/add.html", context, status=status)


def _board_to_add_to(request: HttpRequest, form: PickedImagesForm, person: Person) -> Board | None:
    """The board the form names: a new one (made now, by the acting person), or one `person` may add to."""
    if name := form.cleaned_data.get("new_board"):
        return board_create(person=acting_person(request), name=name)
    return next(
        (board for board in boards_to_add_to(person=person) if board.public_id == form.cleaned_data["board"]),
        None,
    )


@require_POST
@login_required_if_configured
def board_remove(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    at = board_for(request, public_id, needs="edit")
    form = BoardItemsForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Name the images to take off the board.")
    removed = board_items_remove(
        board=at.board, generations=picked_generations(public_ids=form.cleaned_data["id"])
    )
    messages.success(request, f"{_counted(removed, 'taken off')} the board; they stay in the gallery.")
    return htmx_redirect(request, at.board)


@require_POST
@login_required_if_configured
def board_move(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    at = board_for(request, public_id, needs="edit")
    form = MoveForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Say which image goes where.")
    generation = get_object_or_404(Generation, public_id=form.cleaned_data["id"])
    try:
        board_item_move(board=at.board, generation=generation, to_index=form.cleaned_data["to"])
    except BoardRefused as err:
        raise BadRequest(str(err)) from err
    if request.htmx:
        return HttpResponse(status=204)
    return redirect(f"{at.board.get_absolute_url()}#item-{generation.public_id}")


@require_POST
@login_required_if_configured
def board_review(request: HtmxHttpRequest, public_id: str, generation_id: str) -> HttpResponse:
    """An image's review status on the board (the board page's buttons; review mode posts its own)."""
    at = board_for(request, public_id, needs="edit")
    form = ReviewStatusForm(request.POST)
    if not form.is_valid():
        raise BadRequest("A review status is needs review, approved or rejected.")
    generation = get_object_or_404(Generation.objects.live(), public_id=generation_id)
    try:
        board_review_set(
            board=at.board,
            generation=generation,
            status=ReviewStatus(form.cleaned_data["status"]),
            person=at.person,
        )
    except BoardRefused as err:
        raise BadRequest(str(err)) from err
    if request.htmx:
        return _tile(request, at, generation.public_id)
    return redirect(f"{at.board.get_absolute_url()}#item-{generation.public_id}")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def board_settings(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    at = board_for(request, public_id, needs="manage")
    form = BoardForm(
        request.POST if request.method == "POST" else None,
        initial={
            "name": at.board.name,
            "description": at.board.description,
            "smart_query": at.board.smart_query,
        },
    )
    if request.method == "POST" and form.is_valid():
        board_update(
            board=at.board,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            smart_query=_smart_query(form.cleaned_data["smart_query"]) or None,
        )
        messages.success(request, "The board's name and description were saved.")
        return redirect("reviews:board-settings", at.board.public_id)
    return _render_settings(request, at, form=form)


def _render_settings(
    request: HtmxHttpRequest, at: BoardRequest, *, status: int = 200, **forms: Form
) -> HttpResponse:
    context = {
        **_board_context(at),
        "form": forms.get("form")
        or BoardForm(initial={"name": at.board.name, "description": at.board.description}),
        "link_form": forms.get("link_form") or ShareLinkForm(),
        "member_form": forms.get("member_form") or MemberForm(),
        "links": list(at.board.share_links.all()),
        "members": list(at.board.members.order_by("username")),
    }
    return render(request, "reviews/board_settings.html", context, status=status)


@require_POST
@login_required_if_configured
def board_members(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    at = board_for(request, public_id, needs="manage")
    form = MemberForm(request.POST)
    if form.is_valid():
        username = form.cleaned_data["username"].strip()
        try:
            if form.cleaned_data["remove"]:
                board_member_remove(board=at.board, username=username)
            else:
                board_member_add(board=at.board, username=username)
        except BoardRefused as err:
            form.add_error("username", str(err))
    if form.errors:
        return _render_settings(request, at, member_form=form, status=400)
    return redirect(f"{reverse('reviews:board-settings', args=[at.board.public_id])}#members")


@require_POST
@login_required_if_configured
def board_link_create(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    at = board_for(request, public_id, needs="manage")
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, at, link_form=form, status=400)
    link = share_link_create(board=at.board, person=at.person, **form.cleaned_data)
    messages.success(request, f"The share link “{link}” is on; copy it below.")
    return redirect(f"{reverse('reviews:board-settings', args=[at.board.public_id])}#link-{link.public_id}")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def board_delete_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    at = board_for(request, public_id, needs="manage")
    if request.method == "POST":
        board_delete(board=at.board)
        messages.success(request, f"The board “{at.board.name}” was deleted; its images stay in the gallery.")
        return htmx_redirect(request, "reviews:boards")
    return render(request, "reviews/board_delete.html", _board_context(at))


@require_safe
@login_required_if_configured
def board_images_zip(request: HttpRequest, public_id: str) -> StreamingHttpResponse:
    at = board_for(request, public_id)
    archive = board_zip(
        board=at.board,
        share_url_of=lambda generation: request.build_absolute_uri(generation.get_absolute_url()),
    )
    return streamed_download(
        archive, content_type="application/zip", filename=f"zimage-board-{at.board.public_id}.zip"
    )


@require_safe
@login_required_if_configured
def board_export_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    at = board_for(request, public_id)
    text = board_csv(board=at.board, share_url_of=lambda g: request.build_absolute_uri(g.get_absolute_url()))
    return _csv_download(text, f"zimage-board-{at.board.public_id}.csv")


@require_safe
def gallery_export_csv(request: HttpRequest) -> HttpResponse:
    """The gallery's images under the filters in the query string, as the board's CSV (the newest first)."""
    text = generations_csv(
        generations=filtered_gallery(request, request.GET),
        share_url_of=lambda g: request.build_absolute_uri(g.get_absolute_url()),
    )
    return _csv_download(text, "zimage-gallery.csv")


def _csv_download(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_safe
@login_required_if_configured
def board_preview(request: HttpRequest, public_id: str) -> HttpResponse:
    at = board_for(request, public_id)
    return preview_response(at.board)


def _board_context(at: BoardRequest) -> dict:
    return {
        "board": at.board,
        "access": at.access,
        "person": at.person,
        "move_url": reverse("reviews:board-move", args=[at.board.public_id]),
        "remove_url": reverse("reviews:board-remove", args=[at.board.public_id]),
    }


def _smart_query(query: str) -> str:
    """The gallery's filters from a query string, as a smart board keeps them (only what the filters read)."""
    form = GalleryFilterForm(QueryDict(query))
    form.is_valid()
    kept = QueryDict(mutable=True)
    for name in form.fields:
        value = form.cleaned_data.get(name)
        if value not in (None, "", False):
            kept[name] = "on" if value is True else str(value)
    return kept.urlencode()


def _smart_filter_labels(query: str) -> list[str]:
    """The filters of a smart board as people read them ("Search: cat", "Favourites only")."""
    form = GalleryFilterForm(QueryDict(query))
    form.is_valid()
    labels = []
    for name, field in form.fields.items():
        value = form.cleaned_data.get(name)
        if value in (None, "", False) or name == "batch":
            continue
        shown = dict(getattr(field, "choices", [])).get(value, value) if value is not True else "yes"
        labels.append(f"{field.label or name.capitalize()}: {shown}")
    if form.cleaned_data.get("batch"):
        labels.append("One batch's images")
    return labels


def _counted(count: int, what: str) -> str:
    return f"{count} image{'' if count == 1 else 's'} {what}"
