"""Property-based hostile input: only documented errors, naming the argument.

Each test feeds generated arguments to a public entry point and accepts
exactly two outcomes: success, or a ValueError / TypeError whose message
starts with the name of an argument. Anything else (an IndexError from deep
inside, a message that names nothing) fails the test.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbscale

ARGUMENT = re.compile(r"^([A-Za-z_]+)(?:\[[^\]]*\])?:")

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-5, 300), max_size=5),
    st.tuples(st.integers(-5, 300), st.integers(-5, 300)),
)


def check_documented(call, arguments: set[str]) -> None:
    """Run ``call``; a failure must be a documented error naming an argument."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nbscale.NbscaleWarning)
            call()
    except (ValueError, TypeError) as err:
        match = ARGUMENT.match(str(err))
        assert match is not None, f"message names no argument: {err}"
        assert match.group(1) in arguments, f"unexpected argument in: {err}"


STUDY_ARGUMENTS = {
    "X",
    "y",
    "target",
    "model",
    "sizes",
    "samples",
    "points",
    "validation",
    "metric",
    "schedule",
    "store",
    "random_state",
    "engine",
    "device",
    "design",
    "allocation",
    "path",
}


@FAST
@given(
    sizes=anything,
    samples=anything,
    points=anything,
    validation=anything,
    model=st.one_of(anything, st.sampled_from(["logistic", "linear", "ridge"])),
    metric=st.one_of(anything, st.sampled_from(["log_loss", "accuracy", "mse"])),
    schedule=st.one_of(anything, st.sampled_from(["uniform", "geometric"])),
    random_state=anything,
)
def test_study_constructor(
    sizes, samples, points, validation, model, metric, schedule, random_state
) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.arange(60) % 2

    def build() -> None:
        nbscale.Study(
            X,
            y,
            sizes=sizes,
            samples=samples,
            points=points,
            validation=validation,
            model=model,
            metric=metric,
            schedule=schedule,
            store=":memory:",
            random_state=random_state,
        )

    check_documented(build, STUDY_ARGUMENTS)


@FAST
@given(
    X=st.one_of(
        anything,
        st.lists(st.lists(st.floats(), min_size=1, max_size=3), min_size=0, max_size=8),
    ),
    y=st.one_of(anything, st.lists(st.integers(0, 2), max_size=10)),
)
def test_study_data(X, y) -> None:
    check_documented(
        lambda: nbscale.Study(X, y, sizes=(1, 2), samples=1, store=":memory:"),
        STUDY_ARGUMENTS,
    )


observation_frames = st.integers(0, 30).flatmap(
    lambda n: st.builds(
        lambda points, sizes, deltas: pd.DataFrame(
            {"point": points, "size": sizes, "delta": deltas}
        ),
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
        st.lists(
            st.one_of(st.integers(-3, 500), st.floats(-1, 1e4), st.just(float("nan"))),
            min_size=n,
            max_size=n,
        ),
        st.lists(
            st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n
        ),
    )
)


@FAST
@given(
    frame=observation_frames, method=st.sampled_from(["likelihood", "loglinear", "x"])
)
def test_fit_laws(frame, method) -> None:
    def fit() -> None:
        laws = nbscale.fit_laws(frame, method=method)
        numbers = laws.select_dtypes("number").to_numpy(dtype=float)
        assert np.isfinite(numbers).all()

    check_documented(fit, {"observations", "method"})


def _laws(n: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "point": np.repeat(np.arange(n), 20),
            "size": np.tile(np.geomspace(10, 200, 20).round(), n),
        }
    )
    frame["delta"] = (
        0.5 * frame["size"] ** -1.0 * (1 + 0.3 * rng.normal(size=len(frame)))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nbscale.NbscaleWarning)
        return nbscale.fit_laws(frame)


LAWS = _laws(6, np.random.default_rng(0))


@FAST
@given(sizes=anything, weights=st.one_of(anything, st.just("uniform")))
def test_values(sizes, weights) -> None:
    check_documented(
        lambda: nbscale.values(LAWS, sizes=sizes, weights=weights),
        {"sizes", "weights", "laws"},
    )


@FAST
@given(
    size=anything,
    n=anything,
    action=st.one_of(anything, st.sampled_from(["add", "remove"])),
    balanced=anything,
)
def test_recommend(size, n, action, balanced) -> None:
    labels = pd.Series(np.arange(len(LAWS)) % 2, index=LAWS.index)
    check_documented(
        lambda: nbscale.recommend(
            LAWS, size=size, n=n, action=action, labels=labels, balanced=balanced
        ),
        {"size", "n", "action", "balanced", "labels", "laws", "skip_flagged"},
    )


@pytest.mark.parametrize("bad", [np.array([[1.0, np.nan]] * 10), "not an array", None])
def test_x_errors_name_x(bad) -> None:
    with pytest.raises((ValueError, TypeError), match=r"^X: "):
        nbscale.Study(bad, [0, 1] * 5, store=":memory:")
