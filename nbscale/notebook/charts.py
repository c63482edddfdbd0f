"""Altair charts of a study: static pictures and the dashboard's specs.

:func:`study_chart` (also ``Study.chart(kind)``) draws a finished or
running study for scripts, reports and the tutorials. The builders below
it take either DataFrames (static charts) or named Vega datasets
(``alt.Data(name=...)``), which is how the live dashboard gets the very
same specs with empty datasets that it then fills by Vega changesets.

Kinds of chart
--------------
``"curves"``
    Scaling curves of a few points: ``|delta|`` against the dataset size
    ``k`` on log-log axes, with per-size means and error bars (or the raw
    cloud), and the fitted law ``|c| k^-alpha`` with its 95 % band.
``"alpha"``, ``"c"``
    Histograms of the fitted exponents ``alpha`` and of ``log10 |c|``.
``"laws"``
    ``alpha`` against ``|c|`` for every point, with both histograms.
``"aggregate"``
    The dataset-level loss against size with the fitted
    ``epsilon + C k^-a``.
``"values"``
    Every point's value over a size window, ranked, with its 95 % band.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nbscale.notebook._frames import (
    BAND_Z,
    MeanAccumulator,
    aggregate_frame,
    cloud_frame,
    fit_curves,
    laws_frame,
    point_key,
    size_bin_edges,
    spanning_points,
)

__all__ = [
    "CHART_KINDS",
    "aggregate_chart",
    "alpha_chart",
    "c_chart",
    "curves_chart",
    "dashboard_specs",
    "laws_chart",
    "study_chart",
    "values_chart",
]

logger = logging.getLogger(__name__)

CHART_KINDS = ("curves", "alpha", "c", "laws", "aggregate", "values")
"""The ``kind`` values :func:`study_chart` accepts."""

_SHOW = ("means", "cloud", "both")
_POINT_COLOR = {"scheme": "tableau10"}


def _altair() -> Any:
    """Import Altair, naming the package to install when it is missing."""
    try:
        import altair
    except ImportError as err:  # pragma: no cover - altair is a dependency
        raise ImportError(
            "nbscale charts need Altair: pip install 'altair>=5.2'"
        ) from err
    return altair


def curves_chart(
    cloud: Any,
    means: Any,
    fit: Any,
    *,
    show: str = "means",
    sizes: tuple[int, int] | None = None,
    live: bool = False,
) -> Any:
    """Scaling curves: ``|delta|`` against ``k`` on log-log axes.

    Parameters
    ----------
    cloud, means, fit : DataFrame or altair.Data
        Frames from :func:`~nbscale.notebook._frames.cloud_frame`,
        :meth:`~nbscale.notebook._frames.MeanAccumulator.frame` and
        :func:`~nbscale.notebook._frames.fit_curves`, or named datasets.
    show : {"means", "cloud", "both"}, default="means"
        What to draw of the observations; the fitted line is always drawn.
    sizes : tuple (k_min, k_max), optional
        Fix the x domain (keeps a live chart from rescaling).
    live : bool, default=False
        Draw every layer and switch between them with a ``display`` param
        (the dashboard sets it), instead of leaving layers out.

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> import pandas as pd
    >>> from nbscale.notebook._frames import fit_curves
    >>> laws = pd.DataFrame({"c": [1.0], "alpha": [0.8]}, index=[3])
    >>> fit = fit_curves(laws, ["3"], 10, 100)
    >>> empty = pd.DataFrame({"point": [], "k": [], "abs_delta": []})
    >>> means = pd.DataFrame({"point": [], "k": [], "abs_mean": [],
    ...                       "lower": [], "upper": []})
    >>> chart = curves_chart(empty, means, fit)
    >>> len(chart.to_dict()["layer"])
    4
    """
    alt = _altair()
    if show not in _SHOW:
        raise ValueError(f"show: expected one of {_SHOW}, got {show!r}")
    domain = {} if sizes is None else {"domain": list(sizes)}
    x = alt.X("k:Q", title="dataset size k", scale=alt.Scale(type="log", **domain))
    color = alt.Color("point:N", title="point", scale=alt.Scale(**_POINT_COLOR))

    def visible(hidden_when: str, value: float) -> Any:
        if not live:
            return alt.value(value)
        return alt.condition(
            f"display == '{hidden_when}'", alt.value(0), alt.value(value)
        )

    log_y = alt.Scale(type="log")
    band = (
        alt.Chart(fit)
        .mark_area(opacity=0.15)
        .encode(x=x, y=alt.Y("lower:Q", scale=log_y), y2="upper:Q", color=color)
    )
    line = (
        alt.Chart(fit)
        .mark_line()
        .encode(
            x=x,
            y=alt.Y("fit:Q", title="|Δ| (contribution)", scale=log_y),
            color=color,
            tooltip=["point:N", alt.Tooltip("k:Q", format=".0f"), "fit:Q"],
        )
    )
    layers = [band, line]
    if live or show != "means":
        layers.insert(
            0,
            alt.Chart(cloud)
            .mark_circle(size=14)
            .encode(
                x=x,
                y=alt.Y("abs_delta:Q", scale=log_y),
                color=color,
                opacity=visible("means", 0.35),
            ),
        )
    if live or show != "cloud":
        bars = (
            alt.Chart(means)
            .mark_rule()
            .encode(
                x=x,
                y=alt.Y("lower:Q", scale=log_y),
                y2="upper:Q",
                color=color,
                opacity=visible("cloud", 1.0),
            )
        )
        dots = (
            alt.Chart(means)
            .mark_point(filled=True, size=40)
            .encode(
                x=x,
                y=alt.Y("abs_mean:Q", scale=log_y),
                color=color,
                opacity=visible("cloud", 1.0),
                tooltip=["point:N", alt.Tooltip("k:Q", format=".0f"), "mean:Q", "n:Q"],
            )
        )
        layers += [bars, dots]
    chart = alt.layer(*layers).properties(width=360, height=260)
    if live:
        chart = chart.add_params(alt.param(name="display", value=show))
    return chart


def alpha_chart(laws: Any) -> Any:
    """Histogram of the fitted exponents ``alpha``.

    Parameters
    ----------
    laws : DataFrame or altair.Data
        From :func:`~nbscale.notebook._frames.laws_frame`, or a named
        dataset.

    Returns
    -------
    altair.Chart

    Examples
    --------
    >>> import pandas as pd
    >>> from nbscale.notebook._frames import laws_frame
    >>> laws = laws_frame(pd.DataFrame({"c": [1.0, 2.0], "alpha": [0.5, 1.5]}))
    >>> alpha_chart(laws).to_dict()["mark"]["type"]
    'bar'
    """
    alt = _altair()
    return (
        alt.Chart(laws)
        .mark_bar()
        .encode(
            x=alt.X("alpha:Q", bin=alt.Bin(maxbins=30), title="α (decay exponent)"),
            y=alt.Y("count():Q", title="points"),
        )
        .properties(width=180, height=180)
    )


def c_chart(laws: Any) -> Any:
    """Histogram of ``log10 |c|``, the scale of each point's law.

    Parameters
    ----------
    laws : DataFrame or altair.Data
        From :func:`~nbscale.notebook._frames.laws_frame`, or a named
        dataset.

    Returns
    -------
    altair.Chart

    Examples
    --------
    >>> import pandas as pd
    >>> from nbscale.notebook._frames import laws_frame
    >>> laws = laws_frame(pd.DataFrame({"c": [1.0, -2.0], "alpha": [0.5, 1.5]}))
    >>> c_chart(laws).to_dict()["transform"][0]["as"]
    'log10_abs_c'
    """
    alt = _altair()
    return (
        alt.Chart(laws)
        .transform_calculate(log10_abs_c="log(datum.abs_c) / LN10")
        .mark_bar(color="#9c755f")
        .encode(
            x=alt.X("log10_abs_c:Q", bin=alt.Bin(maxbins=30), title="log10 |c|"),
            y=alt.Y("count():Q", title="points"),
        )
        .properties(width=180, height=180)
    )


def laws_chart(laws: Any) -> Any:
    """Every point's ``alpha`` against ``|c|``, beside both histograms.

    Clicking a point in the dashboard's version adds it to the curves.

    Parameters
    ----------
    laws : DataFrame or altair.Data
        From :func:`~nbscale.notebook._frames.laws_frame`, or a named
        dataset.

    Returns
    -------
    altair.HConcatChart

    Examples
    --------
    >>> import pandas as pd
    >>> from nbscale.notebook._frames import laws_frame
    >>> laws = laws_frame(pd.DataFrame({"c": [1.0, 2.0], "alpha": [0.5, 1.5]}))
    >>> len(laws_chart(laws).to_dict()["hconcat"])
    3
    """
    alt = _altair()
    scatter = (
        alt.Chart(laws)
        .mark_circle(size=18, opacity=0.6, cursor="pointer")
        .encode(
            x=alt.X("alpha:Q", title="α (decay exponent)"),
            y=alt.Y("abs_c:Q", title="|c| (scale)", scale=alt.Scale(type="log")),
            color=alt.Color("flag:N", title="fit flag", scale=alt.Scale(scheme="set2")),
            tooltip=["point:N", "alpha:Q", "c:Q", "flag:N"],
        )
        .properties(width=240, height=180)
    )
    return alt.hconcat(scatter, alpha_chart(laws), c_chart(laws))


def aggregate_chart(aggregate: Any, *, sizes: tuple[int, int] | None = None) -> Any:
    """The dataset-level validation loss against size, with its fit.

    Parameters
    ----------
    aggregate : DataFrame or altair.Data
        From :func:`~nbscale.notebook._frames.aggregate_frame`, or a named
        dataset.
    sizes : tuple (k_min, k_max), optional
        Fix the x domain (keeps a live chart from rescaling).

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> import pandas as pd
    >>> agg = pd.DataFrame({"k": [10.0, 100.0], "loss": [0.9, 0.5],
    ...                     "lower": [0.8, 0.45], "upper": [1.0, 0.55],
    ...                     "fitted": [0.88, 0.51]})
    >>> len(aggregate_chart(agg).to_dict()["layer"])
    3
    """
    alt = _altair()
    domain = {} if sizes is None else {"domain": list(sizes)}
    x = alt.X("k:Q", title="dataset size k", scale=alt.Scale(type="log", **domain))
    base = alt.Chart(aggregate)
    bars = base.mark_rule(color="#4c78a8").encode(
        x=x, y=alt.Y("lower:Q", scale=alt.Scale(zero=False)), y2="upper:Q"
    )
    dots = base.mark_point(filled=True, color="#4c78a8").encode(
        x=x,
        y=alt.Y("loss:Q", title="validation loss", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("k:Q", format=".0f"), "loss:Q", "fitted:Q"],
    )
    line = base.mark_line(color="#e45756").encode(x=x, y="fitted:Q")
    return alt.layer(bars, dots, line).properties(width=300, height=180)


def values_chart(values: pd.DataFrame) -> Any:
    """Every point's value, ranked, with a 95 % band.

    Parameters
    ----------
    values : DataFrame
        From ``Study.values()``: indexed by point, columns ``value`` and
        ``stderr``.

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> import pandas as pd
    >>> values = pd.DataFrame({"value": [0.1, -0.2], "stderr": [0.01, 0.02]})
    >>> len(values_chart(values).to_dict()["layer"])
    2
    """
    alt = _altair()
    ranked = values.sort_values("value", ascending=False, kind="stable")
    stderr = np.nan_to_num(ranked["stderr"].to_numpy(dtype=np.float64), nan=0.0)
    frame = pd.DataFrame(
        {
            "rank": np.arange(1, len(ranked) + 1),
            "point": [point_key(label) for label in ranked.index],
            "value": ranked["value"].to_numpy(dtype=np.float64),
            "lower": ranked["value"].to_numpy(dtype=np.float64) - BAND_Z * stderr,
            "upper": ranked["value"].to_numpy(dtype=np.float64) + BAND_Z * stderr,
        }
    )
    base = alt.Chart(frame)
    band = base.mark_area(opacity=0.25).encode(
        x=alt.X("rank:Q", title="rank"), y="lower:Q", y2="upper:Q"
    )
    line = base.mark_line(point=True).encode(
        x="rank:Q",
        y=alt.Y("value:Q", title="value (mean contribution)"),
        tooltip=["point:N", "rank:Q", "value:Q", "lower:Q", "upper:Q"],
    )
    return alt.layer(band, line).properties(width=420, height=220)


def dashboard_specs(sizes: tuple[int, int]) -> dict[str, dict[str, Any]]:
    """The Vega-Lite specs the dashboard embeds once, with named datasets.

    Parameters
    ----------
    sizes : tuple (k_min, k_max)
        The study's size window; fixes the curves' x domain.

    Returns
    -------
    dict
        ``"curves"`` (datasets ``cloud``, ``means``, ``fit``; param
        ``display``), ``"laws"`` (dataset ``laws``) and ``"aggregate"``
        (dataset ``aggregate``), each a Vega-Lite spec as a dict.

    Examples
    --------
    >>> sorted(dashboard_specs((10, 100)))
    ['aggregate', 'curves', 'laws']
    """
    return copy.deepcopy(_dashboard_specs((int(sizes[0]), int(sizes[1]))))


@functools.lru_cache(maxsize=8)
def _dashboard_specs(sizes: tuple[int, int]) -> dict[str, dict[str, Any]]:
    """Build the specs (cached: Altair validation is not free)."""
    alt = _altair()
    curves = curves_chart(
        alt.Data(name="cloud"),
        alt.Data(name="means"),
        alt.Data(name="fit"),
        sizes=sizes,
        live=True,
    )
    specs = {
        "curves": curves.to_dict(),
        "laws": laws_chart(alt.Data(name="laws")).to_dict(),
        "aggregate": aggregate_chart(
            alt.Data(name="aggregate"), sizes=(sizes[0], sizes[1] + 1)
        ).to_dict(),
    }
    for spec in specs.values():
        # Relayout as data arrive: axis labels grow from the empty start.
        spec["autosize"] = {"type": "pad", "resize": True}
    return specs


def study_chart(study: Any, kind: str, **options: Any) -> Any:
    """A static Altair chart of a study (``Study.chart(kind)``).

    Parameters
    ----------
    study : nbscale.Study
        A study with observations.
    kind : {"curves", "alpha", "c", "laws", "aggregate", "values"}
        See the module documentation.
    **options
        For ``"curves"``: ``points`` (labels to draw; default ``n`` points
        spanning the ``alpha`` distribution), ``n`` (default 5) and
        ``show`` (``"means"``, ``"cloud"`` or ``"both"``). For
        ``"values"``: ``sizes`` (the window, default the study's). For
        ``"laws"``, ``"alpha"`` and ``"c"``: ``max_points`` (default 5000).

    Returns
    -------
    altair.Chart, LayerChart or HConcatChart

    Raises
    ------
    ValueError
        If ``kind`` or an option is unknown, or the study has no
        observations yet.

    Examples
    --------
    >>> import nbscale
    >>> from sklearn.datasets import load_wine
    >>> X, y = load_wine(return_X_y=True)
    >>> study = nbscale.Study(X, y, sizes=(10, 60), samples=6, points=range(6),
    ...                       store=":memory:", random_state=0)
    >>> chart = study_chart(study.run(progress=False), "curves", n=2)
    >>> sorted(chart.to_dict())[:3]
    ['$schema', 'config', 'datasets']
    """
    if kind not in CHART_KINDS:
        raise ValueError(f"kind: expected one of {CHART_KINDS}, got {kind!r}")
    allowed = {
        "curves": {"points", "n", "show"},
        "values": {"sizes"},
        "aggregate": set(),
    }.get(kind, {"max_points"})
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"{unknown[0]}: not an option of chart kind {kind!r}; "
            f"accepted: {sorted(allowed) or 'none'}"
        )

    if kind == "curves":
        return _study_curves(study, **options)
    if kind == "aggregate":
        return aggregate_chart(aggregate_frame(study.aggregate()))
    if kind == "values":
        return values_chart(study.values(sizes=options.get("sizes")))
    frame = laws_frame(study.laws(), max_rows=options.get("max_points", 5000))
    builder = {"alpha": alpha_chart, "c": c_chart, "laws": laws_chart}[kind]
    return builder(frame)


def _study_curves(
    study: Any,
    points: Sequence[Any] | None = None,
    n: int = 5,
    show: str = "means",
) -> Any:
    """The ``"curves"`` kind of :func:`study_chart`."""
    observations = study.observations()
    if observations.empty:
        raise ValueError("study: no observations yet; call run() or start() first")
    k_min, k_max = study.sizes
    try:
        laws = study.laws()
    except ValueError as err:
        logger.info("drawing curves without fits: %s", err)
        laws = pd.DataFrame({"c": [], "alpha": []})
    if points is None:
        points = spanning_points(laws, n) or list(observations["point"].unique()[:n])
    keys = [point_key(label) for label in points]
    known = set(observations["point"].map(point_key))
    missing = [key for key in keys if key not in known]
    if missing:
        raise ValueError(
            f"points: no observations for {missing[:5]}; pass labels from "
            f"study.observations()['point']"
        )

    means = MeanAccumulator(size_bin_edges(k_min, k_max))
    means.add(observations, keys)
    return curves_chart(
        cloud_frame(observations, keys),
        means.frame(),
        fit_curves(laws, keys, k_min, k_max),
        show=show,
        sizes=(k_min, k_max),
    )
