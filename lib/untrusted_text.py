"""One rule for text from outside: it must be text that PostgreSQL can store, of a sane length.

PostgreSQL refuses NUL in text (a DataError, so a 500), a lone surrogate cannot be encoded to UTF-8 at all, and a
value longer than any field takes only costs memory, log lines and index pages. The middleware applies it to
every path, query string and form (playground/untrusted_input.py), the API to the fields of its JSON bodies
(generations/api.py).
"""

from __future__ import annotations

import re

# Well above the longest field (a batch's prompts, 40,000 characters); forms keep their own, tighter limits.
MAX_TEXT_CHARS = 100_000
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str, *, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Why `value` cannot be taken as text (a phrase to follow its name), or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    if _SURROGATE.search(value):
        return "contains a lone surrogate, which is not Unicode text"
    if len(value) > max_chars:
        return f"is longer than {max_chars:,} characters"
    return None
