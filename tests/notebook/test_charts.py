"""Static charts (``Study.chart``) and the dashboard's specs."""

from __future__ import annotations

import json
import re

import pytest

from nbscale.notebook.charts import CHART_KINDS, dashboard_specs, study_chart


@pytest.fixture
def busy_study(make_study):
    study = make_study(n_points=15)
    study.emit(600)
    return study


@pytest.mark.parametrize("kind", CHART_KINDS)
def test_every_kind_builds_a_valid_spec(busy_study, kind: str) -> None:
    spec = study_chart(busy_study, kind).to_dict()  # to_dict validates the schema
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert spec.get("datasets")


def test_curves_draw_the_requested_points(busy_study) -> None:
    spec = study_chart(busy_study, "curves", points=[2, 7], show="both").to_dict()
    rows = [row for values in spec["datasets"].values() for row in values]
    assert {row["point"] for row in rows if "point" in row} == {"2", "7"}
    assert len(spec["layer"]) == 5  # cloud, band, line, error bars, means


def test_curves_default_to_points_spanning_alpha(busy_study) -> None:
    spec = study_chart(busy_study, "curves", n=3).to_dict()
    fit = next(
        values for values in spec["datasets"].values() if values and "fit" in values[0]
    )
    alphas = busy_study.laws()["alpha"]
    drawn = {row["point"] for row in fit}
    assert str(alphas.idxmin()) in drawn and str(alphas.idxmax()) in drawn


def test_curves_render_to_svg(busy_study) -> None:
    import vl_convert

    spec = study_chart(busy_study, "curves").to_dict()
    svg = vl_convert.vegalite_to_svg(spec)
    assert svg.count("<path") > 10


@pytest.mark.parametrize(
    ("kind", "options", "match"),
    [
        ("pie", {}, r"kind: expected one of \('curves'"),
        ("curves", {"colour": "red"}, "colour: not an option of chart kind 'curves'"),
        ("curves", {"show": "all"}, "show: expected one of"),
        ("curves", {"points": [999]}, r"points: no observations for \['999'\]"),
        ("aggregate", {"n": 3}, "accepted: none"),
    ],
)
def test_bad_requests_say_what_is_accepted(busy_study, kind, options, match) -> None:
    with pytest.raises(ValueError, match=match):
        study_chart(busy_study, kind, **options)


def test_a_study_without_observations_is_refused(make_study) -> None:
    with pytest.raises(ValueError, match="no observations yet"):
        study_chart(make_study(), "curves")


@pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning")
def test_real_study_chart(wine) -> None:
    import nbscale

    X, y = wine
    study = nbscale.Study(
        X,
        y,
        sizes=(10, 60),
        samples=8,
        points=range(5),
        store=":memory:",
        random_state=1,
    ).run(progress=False)
    for kind in ("curves", "laws", "aggregate", "values"):
        assert study.chart(kind).to_dict()


def test_dashboard_specs_use_named_datasets_and_nothing_remote() -> None:
    specs = dashboard_specs((10, 500))
    text = json.dumps(specs)
    names = set(re.findall(r'"data": \{"name": "(\w+)"\}', text))
    assert names == {"cloud", "means", "fit", "laws", "aggregate"}
    assert '"name": "display"' in text
    urls = set(re.findall(r"https?://[^\"]+", text))
    assert all(url.startswith("https://vega.github.io/schema/") for url in urls)
    assert specs["curves"]["autosize"] == {"type": "pad", "resize": True}
    x_scales = re.findall(r'"domain": \[10, 500\]', json.dumps(specs["curves"]))
    assert x_scales
    # Copies: a caller may change one without touching the cache.
    specs["curves"]["autosize"] = None
    assert dashboard_specs((10, 500))["curves"]["autosize"]
