"""The rules of reviewing, in one place: the rating scale, the bounds of what people type (board names, comments,
guests' names, with the sentences that explain them), how @mentions are read, and the review statuses.
"""

from __future__ import annotations

import re
from enum import StrEnum

from lib.untrusted_text import text_problem

MIN_RATING, MAX_RATING = 1, 5
RATING_RULE = f"A rating is {MIN_RATING} to {MAX_RATING} stars, or 0 to clear yours."
BOARD_NAME_MAX_CHARS = 100
BOARD_DESCRIPTION_MAX_CHARS = 2000
COMMENT_MAX_CHARS = 2000
GUEST_NAME_MAX_CHARS = 60
LINK_LABEL_MAX_CHARS = 60
# What a mention looks like: @ and a Django user name (letters, digits and .+-_), not inside a word or an e-mail
# address, and not ending in a full stop (that is the sentence's).
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]{0,149}[\w+-])")


class ReviewStatus(StrEnum):
    NEEDS_REVIEW = "needs_review"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return {"needs_review": "Needs review", "approved": "Approved", "rejected": "Rejected"}[self.value]


def validate_rating(value: int) -> int:
    """A person's rating: 1 to 5, or 0, which clears it."""
    if not MIN_RATING - 1 <= value <= MAX_RATING:
        raise ValueError(RATING_RULE)
    return value


def clean_text(value: str, *, what: str, max_chars: int, required: bool = True) -> str:
    """Typed text, stripped, checked by the one rule for text from outside and bounded; ValueError says why not."""
    if problem := text_problem(value, max_chars=max_chars):
        raise ValueError(f"The {what} {problem}.")
    value = value.strip()
    if required and not value:
        raise ValueError(f"Write a {what} first.")
    return value


def mentioned_names(text: str) -> list[str]:
    """The user names a comment @mentions, each once, in order."""
    return list(dict.fromkeys(MENTION.findall(text)))


def mean_stars(total: int, count: int) -> str:
    """A team mean as shown: "4.3" (one decimal), or "" for an image nobody rated."""
    return f"{total / count:.1f}" if count else ""


def mean_band(total: int, count: int) -> str:
    """The colour band of a team mean (1 to 5, rounded), for cells coloured by mean; "" when unrated."""
    return str(max(MIN_RATING, min(MAX_RATING, round(total / count)))) if count else ""
