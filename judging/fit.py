"""The statistics of a round's votes, pure numbers in and out: a Bradley–Terry fit over the arms with 95 %
intervals, and how often judges agree.

Ties count as half a win for each side ("ties as half-wins", as the Elo and Chatbot Arena tallies do), and so does
"both bad", which says nothing about which of the two is better. Skips count for nothing. The fit itself is
choix's iterative Luce spectral ranking (maximum likelihood); each pair of arms also gets one virtual tie, a weak
prior that keeps every strength finite (an arm that won every vote so far) and every arm connected to the others.
The intervals come from the fit's Fisher information (the curvature of the log-likelihood at its maximum), on the
log-odds scale, so they stay within 0 to 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import choix
import numpy as np

Z_95 = 1.959964
PRIOR_TIES = 1.0


@dataclass(frozen=True, slots=True)
class Estimate:
    """A probability with its 95 % interval."""

    value: float
    low: float
    high: float

    @property
    def includes_even(self) -> bool:
        """Whether 50 % lies within the interval: the votes cannot yet tell the two sides apart."""
        return self.low <= 0.5 <= self.high


@dataclass(frozen=True, slots=True)
class Fit:
    strengths: np.ndarray  # log-strengths, centred on 0
    covariance: np.ndarray

    def win_probability(self, first: int, second: int) -> Estimate:
        """How likely `first` is preferred to `second` (ties as half-wins)."""
        gradient = np.zeros(len(self.strengths))
        gradient[first], gradient[second] = 1.0, -1.0
        return self._estimate(float(self.strengths[first] - self.strengths[second]), gradient)

    def against_the_others(self, arm: int) -> Estimate:
        """How likely `arm` is preferred to another arm drawn at random: with two arms, the head-to-head."""
        others = [other for other in range(len(self.strengths)) if other != arm]
        chances = np.array([_logistic(self.strengths[arm] - self.strengths[other]) for other in others])
        mean = float(chances.mean())
        slopes = chances * (1 - chances) / len(others)
        gradient = np.zeros(len(self.strengths))
        gradient[arm] = slopes.sum()
        gradient[others] = -slopes
        # The interval is taken on the log-odds of the mean chance: d logit(m) = dm / (m (1 - m)).
        return self._estimate(_logit(mean), gradient / (mean * (1 - mean)))

    def _estimate(self, log_odds: float, gradient: np.ndarray) -> Estimate:
        spread = Z_95 * math.sqrt(max(float(gradient @ self.covariance @ gradient), 0.0))
        return Estimate(
            float(_logistic(log_odds)),
            float(_logistic(log_odds - spread)),
            float(_logistic(log_odds + spread)),
        )


def bradley_terry(wins: np.ndarray, ties: np.ndarray) -> Fit:
    """Fit arm strengths to `wins[i, j]` (votes preferring arm i to arm j) and `ties[i, j]` (ties and "both bad"
    between them, symmetric)."""
    arms = len(wins)
    comparisons = wins + ties / 2 + (PRIOR_TIES / 2) * (1 - np.eye(arms))
    strengths = choix.ilsr_pairwise_dense(comparisons)
    strengths = strengths - strengths.mean()
    totals = comparisons + comparisons.T
    chances = _logistic(strengths[:, None] - strengths[None, :])
    information = -totals * chances * chances.T
    np.fill_diagonal(information, 0.0)
    np.fill_diagonal(information, -information.sum(axis=1))
    return Fit(strengths=strengths, covariance=np.linalg.pinv(information))


@dataclass(frozen=True, slots=True)
class Agreement:
    """How often two judges who voted on the same pair gave the same answer (ties and "both bad" as one)."""

    pairs: int  # pairs voted on by two judges or more
    observed: float | None  # the share of agreeing judge pairs
    kappa: float | None  # Fleiss' kappa: agreement beyond what chance would give


def agreement(outcomes_by_pair: Iterable[Mapping[str, int]]) -> Agreement:
    """From each pair's count of outcomes ("a", "b", "tie"), over pairs with two votes or more."""
    agreeing = possible = 0
    totals: Counter[str] = Counter()
    pairs = 0
    for counts in outcomes_by_pair:
        votes = sum(counts.values())
        if votes < 2:
            continue
        pairs += 1
        agreeing += sum(count * (count - 1) for count in counts.values())
        possible += votes * (votes - 1)
        totals.update(counts)
    if not possible:
        return Agreement(pairs=0, observed=None, kappa=None)
    observed = agreeing / possible
    all_votes = sum(totals.values())
    by_chance = sum((count / all_votes) ** 2 for count in totals.values())
    kappa = (observed - by_chance) / (1 - by_chance) if by_chance < 1 else None
    return Agreement(pairs=pairs, observed=observed, kappa=kappa)


def wilson(successes: float, trials: float) -> Estimate | None:
    """A share with its 95 % Wilson score interval (None without trials)."""
    if trials <= 0:
        return None
    share = successes / trials
    centre = (share + Z_95**2 / (2 * trials)) / (1 + Z_95**2 / trials)
    spread = (
        Z_95 * math.sqrt(share * (1 - share) / trials + Z_95**2 / (4 * trials**2)) / (1 + Z_95**2 / trials)
    )
    return Estimate(share, max(centre - spread, 0.0), min(centre + spread, 1.0))


def _logistic(value):
    return 1 / (1 + np.exp(-value))


def _logit(share: float) -> float:
    share = min(max(share, 1e-9), 1 - 1e-9)
    return math.log(share / (1 - share))
