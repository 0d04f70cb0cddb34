from __future__ import annotations

from typing import Any

from django import forms

from generations.forms import PublicIdsField
from reviews.domain import (
    BOARD_DESCRIPTION_MAX_CHARS,
    BOARD_NAME_MAX_CHARS,
    COMMENT_MAX_CHARS,
    GUEST_NAME_MAX_CHARS,
    LINK_LABEL_MAX_CHARS,
    RATING_RULE,
    ReviewStatus,
    clean_text,
)
from reviews.models import LinkAudience, LinkScope
from reviews.selectors import BOARD_SORTS, BoardItemFilters

SMART_QUERY_MAX_CHARS = 2000


def _text_field(*, what: str, max_chars: int, required: bool = True, **options: Any) -> forms.CharField:
    return forms.CharField(
        required=required,
        strip=False,  # the domain's rule strips, after checking what was sent
        max_length=max_chars,
        error_messages={
            "required": f"Write a {what} first.",
            "max_length": f"Keep the {what} under {max_chars:,} characters.",
        },
        **options,
    )


class TextRuleForm(forms.Form):
    """Every text field passes the domain's rule for typed text (reviews/domain.py `clean_text`)."""

    text_rules: dict[str, tuple[str, int]] = {}

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        for name, (what, max_chars) in self.text_rules.items():
            if isinstance(cleaned.get(name), str):
                try:
                    cleaned[name] = clean_text(
                        cleaned[name], what=what, max_chars=max_chars, required=self.fields[name].required
                    )
                except ValueError as err:
                    self.add_error(name, str(err))
        return cleaned


class BoardForm(TextRuleForm):
    name = _text_field(what="board name", max_chars=BOARD_NAME_MAX_CHARS, label="Name")
    description = _text_field(
        what="description",
        max_chars=BOARD_DESCRIPTION_MAX_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the board is for: a campaign, a client, a question to settle.",
    )
    smart_query = forms.CharField(required=False, max_length=SMART_QUERY_MAX_CHARS, widget=forms.HiddenInput)
    text_rules = {
        "name": ("board name", BOARD_NAME_MAX_CHARS),
        "description": ("description", BOARD_DESCRIPTION_MAX_CHARS),
    }


class PickedImagesForm(TextRuleForm):
    """Images picked anywhere (a card, the lightbox, a gallery selection, a grid) and the page to go back to."""

    id = PublicIdsField()
    next = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)


class AddToBoardForm(PickedImagesForm):
    """The picked images and the board they go to: one of the person's boards, or a new one named here."""

    board = forms.CharField(required=False, max_length=32)
    new_board = _text_field(
        what="board name", max_chars=BOARD_NAME_MAX_CHARS, required=False, label="Or a new board"
    )
    text_rules = {"new_board": ("board name", BOARD_NAME_MAX_CHARS)}

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("new_board") and not cleaned.get("board") and "new_board" not in self.errors:
            self.add_error("board", "Pick a board, or name a new one.")
        return cleaned


class BoardItemsForm(forms.Form):
    id = PublicIdsField()


class MoveForm(forms.Form):
    id = forms.CharField(max_length=32)
    to = forms.IntegerField(min_value=0, max_value=1_000_000)


class BoardItemFilterForm(forms.Form):
    sort = forms.ChoiceField(required=False, choices=list(BOARD_SORTS.items()), label="Sort by")
    min_mean = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Team mean",
        choices=[("", "Any mean"), *((str(stars), f"{stars}★ and up") for stars in range(1, 6))],
    )
    mine = forms.ChoiceField(
        required=False,
        label="My rating",
        choices=[
            ("", "Rated by me or not"),
            ("unrated", "Not rated by me"),
            ("rated", "Rated by me"),
            *((str(stars), f"I gave {stars}★ and up") for stars in range(2, 6)),
        ],
    )
    status = forms.ChoiceField(
        required=False,
        label="Review",
        choices=[("", "Any review status"), *((status.value, status.label) for status in ReviewStatus)],
    )

    def active_count(self) -> int:
        """How many filters narrow or order the board: the number on its Filters button."""
        self.is_valid()
        return sum(1 for name in self.fields if self.cleaned_data.get(name))

    def filters(self) -> BoardItemFilters:
        """The filters asked for; a value that does not validate is left out rather than refused."""
        self.is_valid()
        data = {name: self.cleaned_data.get(name) for name in self.fields}
        return BoardItemFilters(
            sort=data["sort"] or "position",
            min_mean=data["min_mean"] or 0,
            mine=data["mine"] or "",
            status=data["status"] or "",
        )


class RatingForm(forms.Form):
    value = forms.IntegerField(min_value=0, max_value=5, error_messages={"invalid": RATING_RULE})


class ReviewStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(status.value, status.label) for status in ReviewStatus])


class CommentForm(TextRuleForm):
    text = _text_field(
        what="comment",
        max_chars=COMMENT_MAX_CHARS,
        label="Comment",
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "maxlength": COMMENT_MAX_CHARS,
                "placeholder": "Add a comment… @name mentions a teammate",
            }
        ),
    )
    reply_to = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)
    text_rules = {"text": ("comment", COMMENT_MAX_CHARS)}


class GuestCommentForm(CommentForm):
    """A guest's comment through a share link: with the name they go by."""

    name = _text_field(
        what="name",
        max_chars=GUEST_NAME_MAX_CHARS,
        label="Your name",
        widget=forms.TextInput(attrs={"autocomplete": "name", "maxlength": GUEST_NAME_MAX_CHARS}),
    )
    field_order = ["name", "text", "reply_to"]
    text_rules = {**CommentForm.text_rules, "name": ("name", GUEST_NAME_MAX_CHARS)}


class ShareLinkForm(TextRuleForm):
    label = _text_field(
        what="label",
        max_chars=LINK_LABEL_MAX_CHARS,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. For the client"}),
    )
    scope = forms.ChoiceField(choices=LinkScope.choices, initial=LinkScope.VIEW, widget=forms.RadioSelect)
    audience = forms.ChoiceField(
        choices=LinkAudience.choices, initial=LinkAudience.ANYONE, widget=forms.RadioSelect
    )
    text_rules = {"label": ("label", LINK_LABEL_MAX_CHARS)}


class ShareLinkSwitchForm(forms.Form):
    active = forms.BooleanField(required=False)


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, label="User name")
    remove = forms.BooleanField(required=False, widget=forms.HiddenInput)
