"""How a round pairs its images, with nothing but the images' values: the arms are the values of the varied
parameter, and two images of different arms make a pair when they agree on every other parameter (same prompt,
seed and size, other arm). Where the images allow no such match (a gallery filter's picks), an image left without
a partner is paired with the other arms' images of its prompt.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# What an image's values name, beyond the varied parameter: every one must agree for a pair of the first rank.
MATCHED = ("prompt", "seed", "size", "extend", "model")
# A round of more pairs than this takes a random sample of them: no judge team votes on more.
MAX_PAIRS = 5000


@dataclass(frozen=True, slots=True)
class Candidate:
    """An image a round could show: its key (the generation's id) and its values, the varied one included."""

    key: int
    values: Mapping[str, Hashable]


@dataclass(frozen=True, slots=True)
class RoundPlan:
    arms: list[Hashable]  # the values of the varied parameter, in the order arms are shown
    pairs: list[tuple[Candidate, Candidate]]  # the first of each pair is in the earlier arm


def round_plan(
    candidates: Sequence[Candidate], parameter: str, arm_order: Callable[[Any], Any] | None = None
) -> RoundPlan:
    """The arms and pairs a round over `candidates` compares on `parameter` (arms sorted by `arm_order`, or in
    the order they first appear)."""
    first_seen = list(dict.fromkeys(candidate.values[parameter] for candidate in candidates))
    arms = sorted(first_seen, key=arm_order) if arm_order else first_seen
    position = {arm: index for index, arm in enumerate(arms)}
    others = tuple(name for name in MATCHED if name != parameter and name in _names(candidates))
    levels = [others, ("prompt",) if parameter != "prompt" else ()]
    pairs: dict[tuple[int, int], tuple[Candidate, Candidate]] = {}
    for rank, level in enumerate(levels):
        paired = {candidate.key for pair in pairs.values() for candidate in pair}
        groups: dict[tuple, list[Candidate]] = defaultdict(list)
        for candidate in candidates:
            groups[tuple(candidate.values[name] for name in level)].append(candidate)
        for group in groups.values():
            for first, second in itertools.combinations(group, 2):
                if first.values[parameter] == second.values[parameter]:
                    continue
                if rank > 0 and first.key in paired and second.key in paired:
                    continue
                if position[first.values[parameter]] > position[second.values[parameter]]:
                    first, second = second, first
                pairs.setdefault((first.key, second.key), (first, second))
    chosen = list(pairs.values())
    if len(chosen) > MAX_PAIRS:
        chosen = random.sample(chosen, MAX_PAIRS)
    used = {pair[0].values[parameter] for pair in chosen} | {pair[1].values[parameter] for pair in chosen}
    return RoundPlan(arms=[arm for arm in arms if arm in used], pairs=chosen)


def _names(candidates: Sequence[Candidate]) -> set[str]:
    return set(candidates[0].values) if candidates else set()
