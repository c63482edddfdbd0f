"""The amortized estimator: recovery, layout, determinism, validation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import nbscale
from nbscale.apply import values
from nbscale.laws import LAW_COLUMNS, fit_amortized, fit_laws

K_REF = np.sqrt(100 * 1000)
FAST = {"hidden": (32, 32), "max_epochs": 60, "patience": 10}


def simulate(
    n_points: int,
    n_obs: int,
    seed: int = 0,
    n_features: int = 4,
    classes: bool = False,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Laws that are smooth functions of the features, with realistic noise.

    ``alpha`` in (0.5, 1.5) and the scale depend on the features, beta is
    ``2 alpha``, about 16% of points are harmful, and the noise sd is 1-4
    times the mean at the reference size. With ``classes``, each point
    also has one of two classes (column ``label`` of the truth), which a
    fifth feature predicts only in part, and the class moves ``alpha``
    by -0.3 or +0.3: the law depends on features and class together.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_points, n_features + int(classes)))
    alpha = 1.0 + 0.5 * np.tanh(x[:, 0])
    label = np.zeros(n_points, dtype=np.int64)
    if classes:
        label = (x[:, -1] + 0.7 * rng.normal(size=n_points) > 0).astype(np.int64)
        alpha = 1.0 + 0.35 * np.tanh(x[:, 0]) + 0.6 * (label - 0.5)
    sign = np.where(x[:, 2] > 1.0, -1.0, 1.0)
    psi_ref = sign * np.exp(-4.0 + 0.6 * x[:, 1])
    ratio = 1.0 + 3.0 / (1.0 + np.exp(-x[:, 3]))

    point = np.repeat(np.arange(n_points), n_obs)
    size = rng.integers(100, 1001, point.size)
    relative = size / K_REF
    mean = psi_ref[point] * relative ** -alpha[point]
    sd = ratio[point] * np.abs(psi_ref[point]) * relative ** -alpha[point]
    delta = mean + sd * rng.standard_normal(point.size)
    observations = pd.DataFrame({"point": point, "size": size, "delta": delta})
    truth = pd.DataFrame(
        {
            "c": psi_ref * K_REF**alpha,
            "alpha": alpha,
            "c_se": 0.0,
            "alpha_se": 0.0,
            "c_alpha_cov": 0.0,
            "label": label,
        }
    )
    return observations, x, truth


def window_values(laws: pd.DataFrame) -> np.ndarray:
    return values(laws, sizes=(100, 1000))["value"].to_numpy()


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_beats_the_per_point_likelihood_with_few_observations(task: str) -> None:
    # Regression: no labels, one output block. Classification: the class
    # shifts alpha, so the point's own block must be used to recover it.
    classes = task == "classification"
    observations, x, truth = simulate(n_points=800, n_obs=15, classes=classes)
    labels = truth["label"].to_numpy() if classes else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nbscale.LawFitWarning)
        per_point = fit_laws(observations)
    amortized = fit_amortized(observations, x, labels, hidden=(64, 64), random_state=0)

    target = window_values(truth)
    rho_amortized = stats.spearmanr(window_values(amortized), target)[0]
    rho_per_point = stats.spearmanr(window_values(per_point), target)[0]
    error_amortized = np.median(np.abs(amortized["alpha"] - truth["alpha"]))
    error_per_point = np.median(np.abs(per_point["alpha"] - truth["alpha"]))
    sign_amortized = np.mean(np.sign(amortized["c"]) == np.sign(truth["c"]))

    assert rho_amortized > 0.85
    assert rho_amortized > rho_per_point + 0.1
    assert error_amortized < 0.5 * error_per_point
    assert sign_amortized > 0.9
    if classes:
        # The class effect on alpha is recovered, not averaged away.
        gap = amortized["alpha"].groupby(truth["label"].to_numpy()).median()
        assert gap[1] - gap[0] > 0.3


def test_each_class_gets_its_own_block() -> None:
    # Same features, opposite signs by class: only the label tells them apart.
    rng = np.random.default_rng(1)
    n_points, n_obs = 300, 12
    x = rng.normal(size=(n_points, 2))
    label = rng.integers(0, 2, n_points)
    psi = np.where(label == 1, -1.0, 1.0) * 0.01
    point = np.repeat(np.arange(n_points), n_obs)
    size = rng.integers(100, 1001, point.size)
    mean = psi[point] * (size / K_REF) ** -1.0
    delta = mean + np.abs(mean) * rng.standard_normal(point.size)
    observations = pd.DataFrame({"point": point, "size": size, "delta": delta})

    laws = fit_amortized(observations, x, np.array(["a", "b"])[label], **FAST)
    assert np.mean(np.sign(laws["c"]) == np.sign(psi)) > 0.95


def test_layout_diagnostics_and_no_nan() -> None:
    observations, x, _ = simulate(n_points=120, n_obs=8, seed=2)
    # A point whose deltas are all zero still gets a finite law.
    observations.loc[observations["point"] == 5, "delta"] = 0.0
    laws = fit_amortized(observations, x, **FAST)

    assert laws.columns.tolist() == LAW_COLUMNS
    assert laws.index.tolist() == list(range(120))
    assert laws.index.name == "point"
    numeric = laws.drop(columns=["converged", "flag"])
    assert np.isfinite(numeric.to_numpy(dtype=np.float64)).all()
    assert (laws[["c_se", "alpha_se", "sigma"]] > 0).all().all()
    assert laws["n_obs"].dtype == np.int64 and (laws["n_obs"] == 8).all()
    assert laws["converged"].dtype == bool
    assert set(laws["flag"]) <= {"ok", "at_bound"}
    assert laws["alpha"].between(1e-3, 8).all() and (laws["beta"] > 0).all()

    attrs = laws.attrs
    assert attrs["method"] == "amortized"
    assert np.isfinite(attrs["val_loss"]) and np.isfinite(attrs["train_loss"])
    assert 1 <= attrs["best_epoch"] <= attrs["n_epochs"] <= FAST["max_epochs"]
    assert attrs["n_val_points"] == 30  # a quarter of 120, below the floor of 32
    assert len(attrs["history"]["val_loss"]) == attrs["n_epochs"]


def test_same_seed_same_laws_and_frames_align_by_label() -> None:
    observations, x, _ = simulate(n_points=60, n_obs=6, seed=3)
    quick = {**FAST, "max_epochs": 12, "patience": 4}
    first = fit_amortized(observations, x, **quick, random_state=7)
    again = fit_amortized(observations, x, **quick, random_state=7)
    pd.testing.assert_frame_equal(first, again)

    # String labels with a DataFrame of features in another order give the
    # same laws as positions with an array.
    names = np.array([f"p{i:02d}" for i in range(60)])
    relabelled = observations.assign(point=names[observations["point"]])
    features = pd.DataFrame(x, index=names).iloc[::-1]
    by_name = fit_amortized(relabelled, features, **quick, random_state=7)
    np.testing.assert_allclose(
        by_name["alpha"].to_numpy(), first["alpha"].to_numpy(), rtol=1e-5
    )

    # Rows without observations are welcome (they feed the pretraining);
    # only the observed points get laws.
    features.loc["unused"] = 0.0
    labels = pd.Series(np.arange(61) % 3, index=features.index)
    extra = fit_amortized(relabelled, features, labels, **quick, random_state=7)
    assert extra.index.tolist() == sorted(names)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"features": np.zeros((3, 2))}, ValueError, r"must lie in \[0, 2\]"),
        ({"features": np.zeros(10)}, ValueError, r"features: expected a 2-D array"),
        (
            {"features": np.full((10, 2), np.nan)},
            ValueError,
            r"features: expected finite values",
        ),
        ({"labels": np.zeros(3)}, ValueError, r"labels: expected 10 labels, one per"),
        (
            {"labels": pd.Series([1, 2], index=[0, 1])},
            ValueError,
            r"labels: expected a class for every observed point, got none for \[2, ",
        ),
        ({"pretrain_epochs": -1}, ValueError, r"pretrain_epochs: expected an int >= 0"),
        ({"hidden": ()}, ValueError, r"hidden: expected a non-empty tuple"),
        ({"max_epochs": 0}, ValueError, r"max_epochs: expected an int >= 1, got 0"),
        ({"learning_rate": 0.0}, ValueError, r"learning_rate: expected a float > 0"),
        (
            {"validation_fraction": 0.9},
            ValueError,
            r"validation_fraction: expected a share in \(0, 0.5\], got 0.9",
        ),
        ({"refit": "yes"}, TypeError, r"refit: expected True or False"),
        ({"random_state": -1}, ValueError, r"random_state: expected a non-negative"),
    ],
)
def test_bad_arguments_name_themselves(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    observations, x, _ = simulate(n_points=10, n_obs=4, seed=4)
    arguments: dict[str, object] = {"features": x, **FAST}
    arguments.update(kwargs)
    features = arguments.pop("features")
    with pytest.raises(error, match=match):
        fit_amortized(observations, features, **arguments)  # type: ignore[arg-type]


def test_needs_two_points_and_string_labels_need_a_frame() -> None:
    one = pd.DataFrame(
        {
            "point": [0] * 5,
            "size": [10, 20, 30, 40, 50],
            "delta": [0.1, 0.05, 0.03, 0.02, 0.02],
        }
    )
    with pytest.raises(ValueError, match=r"at least 2 points"):
        fit_amortized(one, np.zeros((1, 2)))
    named = one.assign(point=["a", "a", "b", "b", "b"])
    with pytest.raises(TypeError, match=r"point labels must be integers"):
        fit_amortized(named, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"features: expected a row for every"):
        fit_amortized(named, pd.DataFrame({"x": [1.0]}, index=["a"]))


def test_fit_laws_points_to_the_amortized_entry() -> None:
    observations, _, _ = simulate(n_points=5, n_obs=4)
    with pytest.raises(ValueError, match=r"fit_amortized\(observations, features"):
        fit_laws(observations, method="amortized")


def test_study_routes_the_amortized_method(wine: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = wine
    study = nbscale.Study(
        X,
        y,
        sizes=(20, 60),
        samples=5,
        points=range(0, 178, 6),
        store=":memory:",
        random_state=0,
    )
    study.run(progress=False, executor="inline")
    laws = study.laws("amortized", **FAST)
    assert laws.index.tolist() == sorted(study.observations()["point"].unique())
    assert laws.attrs["method"] == "amortized"

    # Cached until new observations arrive; values and recommend pass it on.
    assert study.laws("amortized", **FAST).equals(laws)
    worth = study.values(method="amortized", weights=("beta", 4, 1), **FAST)
    assert worth.index.equals(laws.index)
    picked = study.recommend(size=40, n=3, method="amortized", balanced=True, **FAST)
    assert len(picked) == 3 and picked["label"].nunique() == 3

    with pytest.raises(TypeError, match=r"apply only to method='amortized'"):
        study.laws("likelihood", hidden=(8,))


def test_regression_study_uses_one_block_and_reports_its_loss(
    diabetes: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = diabetes
    study = nbscale.Study(
        X,
        y,
        model="linear",
        sizes=(30, 120),
        samples=5,
        points=range(0, 350, 7),
        store=":memory:",
        random_state=0,
    )
    study.run(progress=False, executor="inline")
    laws = study.laws("amortized", **FAST)

    assert laws.index.tolist() == sorted(study.observations()["point"].unique())
    assert np.isfinite(laws.drop(columns=["converged", "flag"]).to_numpy(float)).all()
    # The held-out loss is the mean NLL of the held-out points' observations
    # at their predicted laws, so it is on the scale of the nll column.
    val_loss = laws.attrs["val_loss"]
    assert np.isfinite(val_loss) and laws.attrs["n_val_points"] >= 1
    assert abs(val_loss - laws["nll"].median()) < 5.0
    assert len(study.values(method="amortized", **FAST)) == len(laws)
    with pytest.raises(ValueError, match=r"balanced: a class-balanced"):
        study.recommend(size=60, balanced=True, method="amortized", **FAST)
