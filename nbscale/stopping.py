"""Stopping rules: when a run has learned enough.

A rule looks at a :class:`RunState` and answers whether sampling should
stop. Rules combine with ``|`` (stop when either says so) and ``&`` (stop
when both do)::

    rule = nbscale.AlphaPrecision(0.1) | nbscale.TimeBudget(600)
    study.run(stop=rule)

A run also stops, as always, when its target of ``samples`` observations
per point is reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "AlphaPrecision",
    "ObservationBudget",
    "RunState",
    "StoppingRule",
    "TimeBudget",
    "check_stopping_rule",
]


@dataclass
class RunState:
    """What a stopping rule may look at, computed lazily.

    Parameters
    ----------
    n_observations : int
        Committed observations of the study (all runs).
    started : float
        ``time.monotonic()`` when this run started.
    laws : callable
        Returns the current per-point laws (fitted on demand, cached by the
        caller).

    Examples
    --------
    >>> state = RunState(n_observations=5, started=time.monotonic())
    >>> state.elapsed >= 0
    True
    """

    n_observations: int
    started: float
    laws: Callable[[], pd.DataFrame | None] = field(default=lambda: None)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started


class StoppingRule:
    """Base class of stopping rules; combine them with ``|`` and ``&``.

    Examples
    --------
    >>> rule = TimeBudget(10) | ObservationBudget(100)
    >>> rule(RunState(n_observations=150, started=time.monotonic()))
    True
    """

    def __call__(self, state: RunState) -> bool:
        raise NotImplementedError

    def __or__(self, other: StoppingRule) -> StoppingRule:
        return _Combined("|", self, other)

    def __and__(self, other: StoppingRule) -> StoppingRule:
        return _Combined("&", self, other)


class _Combined(StoppingRule):
    def __init__(self, operator: str, left: StoppingRule, right: StoppingRule) -> None:
        self.operator = operator
        self.left = check_stopping_rule(left)
        self.right = check_stopping_rule(right)

    def __call__(self, state: RunState) -> bool:
        if self.operator == "|":
            return self.left(state) or self.right(state)
        return self.left(state) and self.right(state)

    def __repr__(self) -> str:
        return f"({self.left!r} {self.operator} {self.right!r})"


class TimeBudget(StoppingRule):
    """Stop once this run has lasted ``seconds``.

    Parameters
    ----------
    seconds : float
        Wall-clock budget of one run (a resumed run starts afresh).

    Examples
    --------
    >>> TimeBudget(0)(RunState(n_observations=0, started=time.monotonic()))
    True
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = _positive("seconds", seconds)

    def __call__(self, state: RunState) -> bool:
        return state.elapsed >= self.seconds

    def __repr__(self) -> str:
        return f"TimeBudget({self.seconds:g})"


class ObservationBudget(StoppingRule):
    """Stop once the study holds ``n`` committed observations.

    Examples
    --------
    >>> ObservationBudget(10)(RunState(n_observations=9, started=time.monotonic()))
    False
    """

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n: expected a positive int, got {n!r}")
        self.n = int(n)

    def __call__(self, state: RunState) -> bool:
        return state.n_observations >= self.n

    def __repr__(self) -> str:
        return f"ObservationBudget({self.n})"


class AlphaPrecision(StoppingRule):
    """Stop once every point's ``alpha_se`` is at most ``bound``.

    Parameters
    ----------
    bound : float
        The largest acceptable standard error of a point's exponent.
    quantile : float, default=1.0
        Share of points that must meet the bound; 1.0 means every point.
        A lower value (say 0.95) tolerates a tail of points whose curve is
        buried in noise.

    Notes
    -----
    Checking needs a fit of the laws, which the driver does at most every
    couple of seconds; a flagged law (too few observations, a boundary
    estimate) never counts as precise.

    Examples
    --------
    >>> laws = pd.DataFrame({"alpha_se": [0.05, 0.2], "flag": ["ok", "ok"]})
    >>> state = RunState(3, time.monotonic(), laws=lambda: laws)
    >>> AlphaPrecision(0.1)(state), AlphaPrecision(0.3)(state)
    (False, True)
    """

    def __init__(self, bound: float, quantile: float = 1.0) -> None:
        self.bound = _positive("bound", bound)
        if not 0.0 < float(quantile) <= 1.0:
            raise ValueError(f"quantile: expected a share in (0, 1], got {quantile!r}")
        self.quantile = float(quantile)

    def __call__(self, state: RunState) -> bool:
        laws = state.laws()
        if laws is None or len(laws) == 0:
            return False
        precise = (laws["alpha_se"] <= self.bound) & (laws["flag"] == "ok")
        return bool(precise.mean() >= self.quantile)

    def __repr__(self) -> str:
        return f"AlphaPrecision({self.bound:g}, quantile={self.quantile:g})"


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name}: expected a non-negative number, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return float(value)


def check_stopping_rule(rule: Any) -> StoppingRule:
    """Validate a ``stop`` argument.

    Examples
    --------
    >>> check_stopping_rule(TimeBudget(5))
    TimeBudget(5)
    """
    if not isinstance(rule, StoppingRule):
        raise TypeError(
            f"stop: expected a stopping rule such as nbscale.AlphaPrecision(0.1) "
            f"| nbscale.TimeBudget(600), got {rule!r}"
        )
    return rule
