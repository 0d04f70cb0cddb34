"""Full-text search that works for Chinese, Japanese and Korean as well as English.

PostgreSQL's parser splits words at spaces, so a Chinese sentence would be one word and 猫 or 橘猫 would find
nothing in it. The search vector therefore indexes each run of CJK characters twice over (the SQL function
`generation_search_text`, made by the migration `0009_cjk_search`): as its overlapping pairs of characters
(一只可爱 → 一只 只可 可爱), in order so that a longer phrase is a chain of adjacent pairs, and as its single
characters. Everything else keeps the `english` configuration and its stemming. A search is rewritten the same
way before `websearch_to_tsquery` reads it, so its operators (quotes, `or`, `-`) still work around CJK words.
"""

from __future__ import annotations

import re

from django.db.models import Func, TextField

# Han (with extensions and compatibility ideographs), 々〆〇, hiragana, katakana (full and half width, with ー),
# Hangul syllables and jamo. The migration's SQL function lists the same ranges.
CJK_CHARACTERS = (
    "\u1100-\u11ff\u3005-\u3007\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f"
)
_CJK_RUN = re.compile(f"[{CJK_CHARACTERS}]+")


class SearchText(Func):
    """A text as the search vector reads it: CJK runs spelled out as character pairs and single characters."""

    function = "generation_search_text"
    output_field = TextField()


def search_query_text(query: str) -> str:
    """A gallery search in the words the search vector holds, for `websearch_to_tsquery`.

    Each CJK run becomes a quoted phrase of its overlapping pairs (橘猫 → "橘猫", 可爱的橘猫 → "可爱 爱的 的橘 橘猫"),
    or the character itself when it stands alone. A run inside the searcher's own quotes closes and reopens
    them, because the pairs are indexed after the run's surrounding words.
    """
    pieces = []
    end = 0
    for run in _CJK_RUN.finditer(query):
        text = run.group()
        pairs = " ".join(text[index : index + 2] for index in range(len(text) - 1)) or text
        inside_quotes = query.count('"', 0, run.start()) % 2 == 1
        pieces += [query[end : run.start()], f'" "{pairs}" "' if inside_quotes else f'"{pairs}"']
        end = run.end()
    return "".join([*pieces, query[end:]])
