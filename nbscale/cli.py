"""The ``nbscale`` command: headless studies from a terminal.

``nbscale demo`` runs a small study on scikit-learn's digits with the
embedded SQLite store, prints a short summary and writes the result
DataFrames as CSV files. ``nbscale summary PATH`` prints the same summary
for any store.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

import pandas as pd

__all__ = ["main"]

logger = logging.getLogger("nbscale.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbscale", description="Per-point data scaling laws."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="run a study on load_digits and write CSV results"
    )
    demo.add_argument("--out", default="nbscale_demo_output", help="output folder")
    demo.add_argument("--points", type=int, default=60, help="points to study")
    demo.add_argument("--samples", type=int, default=24, help="observations per point")
    demo.add_argument("--sizes", default="40:400", help="size range, k_min:k_max")
    demo.add_argument("--seed", type=int, default=0, help="random_state")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    summary = commands.add_parser("summary", help="summarise an existing store")
    summary.add_argument("path", help="a .nbscale store file")
    return parser


def _parse_sizes(text: str) -> tuple[int, int]:
    try:
        low, high = (int(part) for part in text.split(":"))
    except ValueError as err:
        raise SystemExit(
            f"nbscale: --sizes: expected K_MIN:K_MAX, got {text!r}"
        ) from err
    return low, high


def summary_table(study: object) -> pd.DataFrame:
    """A one-row-per-statistic summary of a study's laws.

    Parameters
    ----------
    study : nbscale.Study

    Returns
    -------
    DataFrame
        Index: statistic name; single column ``value``.

    Examples
    --------
    >>> import nbscale
    >>> from sklearn.datasets import load_wine
    >>> X, y = load_wine(return_X_y=True)
    >>> study = nbscale.Study(X, y, sizes=(10, 60), samples=6, points=[0, 1, 2],
    ...                       store=":memory:", random_state=0)
    >>> summary_table(study.run(progress=False)).loc["observations", "value"]
    '18'
    """
    laws = study.laws()  # type: ignore[attr-defined]
    alpha = laws["alpha"]
    rows = {
        "observations": f"{study.n_observations}",  # type: ignore[attr-defined]
        "failures": f"{study.n_failures}",  # type: ignore[attr-defined]
        "points": f"{len(laws)}",
        "alpha median [10%, 90%]": (
            f"{alpha.median():.2f} [{alpha.quantile(0.1):.2f}, "
            f"{alpha.quantile(0.9):.2f}]"
        ),
        "points with c < 0": f"{int((laws['c'] < 0).sum())}",
        "laws flagged": f"{int((laws['flag'] != 'ok').sum())}",
    }
    return pd.DataFrame({"value": rows}).rename_axis("statistic")


def _demo(args: argparse.Namespace) -> int:
    from sklearn.datasets import load_digits

    import nbscale

    X, y = load_digits(return_X_y=True)
    os.makedirs(args.out, exist_ok=True)
    store = os.path.join(args.out, "digits.nbscale")
    study = nbscale.Study(
        X,
        y,
        model="logistic",
        sizes=_parse_sizes(args.sizes),
        samples=args.samples,
        points=list(range(args.points)),
        store=store,
        random_state=args.seed,
    )
    study.run(progress=not args.quiet)

    # Every table below refits the same laws: say each caveat once. (The
    # "once" filter cannot do it: any catch_warnings inside resets it.)
    k_min, k_max = study.sizes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tables = {
            "laws": study.laws(),
            "values": study.values(),
            "recommend_small": study.recommend(size=k_min, n=10),
            "recommend_large": study.recommend(size=k_max, n=10),
            "aggregate": study.aggregate(),
            "observations": study.observations(),
        }
        summary = summary_table(study)
    seen: set[tuple[type[Warning], str]] = set()
    for record in caught:
        key = (record.category, str(record.message))
        if key not in seen:
            seen.add(key)
            sys.stderr.write(f"{record.category.__name__}: {record.message}\n")
    for name, table in tables.items():
        table.to_csv(os.path.join(args.out, f"{name}.csv"))

    _write(summary.to_string())
    _write(f"\nTop points to add at k={k_max}:")
    _write(tables["recommend_large"].head(5).to_string())
    _write(f"\nStore: {store}\nCSV files: {os.path.abspath(args.out)}")
    return 0


def _write(text: str) -> None:
    """Command output (the CLI's product, not a log message)."""
    sys.stdout.write(text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nbscale`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status.

    Examples
    --------
    >>> main(["summary", "/no/such/file.nbscale"])
    2
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.command == "demo":
        return _demo(args)

    import nbscale

    try:
        study = nbscale.open(args.path)
    except nbscale.StoreError as err:
        sys.stderr.write(f"nbscale: {err}\n")
        return 2
    _write(summary_table(study).to_string())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
