"""The dashboard's data feed: only new data, upserts, replaces, snapshot."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nbscale.notebook._feed import Feed, FitResult, fit_study
from nbscale.notebook._frames import point_key


def _changes(message: dict | None) -> dict[str, dict]:
    return {} if message is None else {c["data"]: c for c in message["changes"]}


def _decode_points(change: dict) -> list[str]:
    return next(c["values"] for c in change["columns"] if c["name"] == "point")


def test_new_observations_are_inserted_once(make_study) -> None:
    study = make_study(n_points=6)
    feed = Feed(study.sizes, n_curves=2)
    feed.select(["1", "4"], study.observations(), by_user=True)
    feed.flush()

    sent = 0
    expected = 0
    for _ in range(5):
        batch = study.emit(25)
        feed.add(batch)
        expected += int(batch["point"].isin([1, 4]).sum())
        changes = _changes(feed.flush()[0])
        if "cloud" in changes:
            assert changes["cloud"]["mode"] == "insert"
            assert set(_decode_points(changes["cloud"])) <= {"1", "4"}
            sent += changes["cloud"]["rows"]
    assert sent == expected
    assert feed.flush()[0] is None  # nothing new: nothing sent


def test_means_are_upserted_for_changed_cells_only(make_study) -> None:
    study = make_study(n_points=3)
    feed = Feed(study.sizes)
    feed.select(["0"], study.observations(), by_user=True)
    feed.flush()
    batch = study.emit(1, points=[0])
    feed.add(batch)
    means = _changes(feed.flush()[0])["means"]
    assert means["mode"] == "upsert" and means["key"] == ["point", "bin"]
    assert means["rows"] == 1


def test_cloud_is_capped_per_point(make_study) -> None:
    study = make_study(n_points=1)
    feed = Feed(study.sizes, max_cloud=30)
    feed.select(["0"], study.observations(), by_user=True)
    feed.flush()
    total = 0
    for _ in range(4):
        feed.add(study.emit(20))
        changes = _changes(feed.flush()[0])
        total += changes["cloud"]["rows"] if "cloud" in changes else 0
    assert total == 30


def test_selection_and_resend_replace_the_datasets(make_study) -> None:
    study = make_study(n_points=5)
    study.emit(100)
    feed = Feed(study.sizes)
    feed.select(["2", "3"], study.observations(), by_user=True)
    changes = _changes(feed.flush()[0])
    assert changes["cloud"]["mode"] == "replace"
    assert changes["cloud"]["rows"] == int(
        study.observations()["point"].isin([2, 3]).sum()
    )
    assert changes["means"]["mode"] == "replace"
    assert feed.flush()[0] is None

    feed.resend()
    assert _changes(feed.flush()[0])["cloud"]["mode"] == "replace"


def test_first_fit_picks_points_spanning_alpha_once(make_study) -> None:
    study = make_study(n_points=10)
    study.emit(400)
    feed = Feed(study.sizes, n_curves=3)
    feed.select(
        feed.first_points(study.observations()), study.observations(), by_user=False
    )
    feed.fitted(FitResult(laws=study.laws(), aggregate=study.aggregate()))
    picks = feed.default_selection()
    alphas = study.laws()["alpha"]
    assert picks is not None and len(picks) == 3
    assert picks[0] == point_key(alphas.idxmin()) and picks[-1] == point_key(
        alphas.idxmax()
    )

    feed.select(picks, study.observations(), by_user=False)
    feed.fitted(FitResult(laws=study.laws()))
    assert feed.default_selection() is None


def test_a_users_choice_is_kept(make_study) -> None:
    study = make_study()
    study.emit(200)
    feed = Feed(study.sizes)
    feed.select(["5"], study.observations(), by_user=True)
    feed.fitted(FitResult(laws=study.laws()))
    assert feed.default_selection() is None
    assert feed.unknown(["5", "nope"]) == ["nope"]


def test_fits_replace_laws_curves_and_aggregate(make_study) -> None:
    study = make_study()
    study.emit(200)
    feed = Feed(study.sizes)
    feed.select(["1"], study.observations(), by_user=True)
    feed.flush()
    table = {"size": 50, "add": [], "remove": []}
    feed.fitted(FitResult(laws=study.laws(), aggregate=study.aggregate(), table=table))
    message, _, traits = feed.flush()
    changes = _changes(message)
    assert {changes[name]["mode"] for name in ("fit", "laws", "aggregate")} == {
        "replace"
    }
    assert message["table"] == table
    assert set(traits) == {"snapshot"}
    assert feed.flush() == (None, [], {})


def test_snapshot_stays_small_for_many_points(make_study) -> None:
    study = make_study(n_points=3000, samples=4)
    for _ in range(10):
        study.emit(1200)
    feed = Feed(study.sizes)
    feed.select(["1", "2", "3"], study.observations(), by_user=True)
    feed.fitted(FitResult(laws=study.laws(), aggregate=study.aggregate()))
    snapshot = feed.snapshot()
    assert snapshot["data"]["laws"]["laws"]["rows"] <= 503
    assert len(json.dumps(snapshot)) < 120_000


def test_fit_study_reports_failures_without_raising(
    make_study, fake_recommend_patch
) -> None:
    study = make_study()
    assert fit_study(study, 50, 3).laws is None  # no observations yet: quiet

    study.emit(100)
    result = fit_study(study, 50, 3)
    assert result.errors == []
    assert len(result.table["add"]) == 3 and result.table["size"] == 50

    def broken(warn: bool = True) -> pd.DataFrame:
        raise RuntimeError("boom")

    study.laws = broken
    result = fit_study(study, 50, 3)
    assert result.laws is None and "boom" in result.errors[0]


def test_fit_study_can_rerank_only(make_study, fake_recommend_patch) -> None:
    study = make_study()
    study.emit(100)
    laws = study.laws()
    result = fit_study(study, 12, 2, laws=laws)
    assert result.laws is None and result.table["size"] == 12


@pytest.mark.parametrize("n_rows", [0, 1])
def test_tiny_batches(make_study, n_rows: int) -> None:
    study = make_study()
    feed = Feed(study.sizes)
    feed.select(["0"], study.observations(), by_user=True)
    feed.flush()
    feed.add(
        study.emit(n_rows, points=[0]) if n_rows else study.observations().iloc[:0]
    )
    message = feed.flush()[0]
    assert (message is None) == (n_rows == 0)
    assert np.isfinite(feed.snapshot()["data"]["curves"]["means"]["rows"])


def test_poor_fits_still_give_something_to_draw(make_study) -> None:
    study = make_study(n_points=6)
    study.emit(100)
    laws = study.laws()
    laws["flag"] = ["at_bound"] * 5 + ["too_few_observations"]
    feed = Feed(study.sizes, n_curves=3)
    feed.fitted(FitResult(laws=laws))
    picks = feed.default_selection()
    assert picks is not None and len(picks) == 3

    laws["flag"] = "too_few_observations"
    feed = Feed(study.sizes, n_curves=3)
    feed.fitted(FitResult(laws=laws))
    assert feed.default_selection() == [point_key(label) for label in laws.index[:3]]
