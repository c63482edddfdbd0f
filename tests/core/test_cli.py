"""The ``nbscale`` console script: the demo a new user runs first."""

from __future__ import annotations

from pathlib import Path

from nbscale.cli import main


def test_demo_writes_tables_and_says_each_caveat_once(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    status = main(
        ["demo", "--out", str(out), "--points", "12", "--samples", "4", "--quiet"]
    )
    captured = capsys.readouterr()

    assert status == 0
    for name in ("laws", "values", "recommend_small", "recommend_large"):
        assert (out / f"{name}.csv").stat().st_size > 0
    assert (out / "digits.nbscale").is_file()
    assert "Top points to add" in captured.out

    # Six tables refit the same laws; the caveat appears once, as a line.
    caveats = [line for line in captured.err.splitlines() if "LawFitWarning" in line]
    assert len(caveats) == 1
    assert caveats[0].startswith("LawFitWarning: fit_laws:")


def test_summary_of_a_missing_store_is_an_error(capsys) -> None:
    assert main(["summary", "/no/such/file.nbscale"]) == 2
    assert "nbscale:" in capsys.readouterr().err
