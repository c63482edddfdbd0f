"""The %nbscale magics, driven through a real IPython InteractiveShell."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

import nbscale
from nbscale.notebook import magics

pytestmark = pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning")

SMALL = "--sizes 10:40 --samples 2 --points 0:6 --store :memory: --seed 0"


@pytest.fixture
def wine_shell(shell, wine):
    shell.user_ns["X"], shell.user_ns["y"] = wine
    return shell


@pytest.fixture
def slow_study(monkeypatch, make_study):
    """Replace nbscale.Study by a fake that never finishes sampling."""
    made: list[Any] = []

    class SlowStudy(make_study):  # type: ignore[misc, valid-type]
        def __init__(self, X: Any, y: Any = None, **options: Any) -> None:
            super().__init__(name=f"slow{len(made)}")
            self.X, self.y, self.options = X, y, options
            self.store_path = options.get("store")
            made.append(self)

    monkeypatch.setattr(nbscale, "Study", SlowStudy)
    return made


def run(shell, cell: str) -> Any:
    """Run a cell; re-raise what it raised, like a failing notebook would."""
    result = shell.run_cell(cell)
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return result.result


def test_help_describes_every_command_and_option(shell) -> None:
    doc = shell.find_line_magic("nbscale").__doc__
    assert "  %nbscale [--target TARGET]" in doc  # the argparse usage line
    for word in (*magics.COMMANDS, "--sizes", "--samples", "--scheduler", "--store"):
        assert word in doc
    assert shell.run_cell("%nbscale?").success


def test_start_returns_the_study_and_displays_its_dashboard(wine_shell, capsys) -> None:
    study = run(
        wine_shell, f"%nbscale start X y {SMALL} --executor threads --name wine"
    )
    assert isinstance(study, nbscale.Study)
    assert study.wait(timeout=120)
    assert study.n_observations == 12
    assert "Dashboard" in capsys.readouterr().out
    dashboard = magics._registry.dashboards["wine"]
    assert dashboard.study is study
    assert dashboard.wait_idle(timeout=120)
    assert dashboard.progress["n_observations"] == 12


def test_start_returns_while_sampling_continues(shell, slow_study) -> None:
    from sklearn.linear_model import LogisticRegression

    shell.user_ns.update(X=[[0.0]], y=[0], clf=LogisticRegression(C=2.0))
    study = run(
        shell,
        "%nbscale start X y --model clf --sizes 10:40 --samples 3 --points 0:5 "
        "--seed 7 --validation 0.3 --store s.nbscale --no-dashboard",
    )
    assert study.running and study.n_observations == 0
    assert study.options == {
        "model": shell.user_ns["clf"],
        "sizes": (10, 40),
        "samples": 3,
        "points": [0, 1, 2, 3, 4],
        "random_state": 7,
        "validation": 0.3,
        "store": "s.nbscale",
    }
    # Starting again on the same store hands back the running study.
    assert run(shell, "%nbscale start X y --store s.nbscale --no-dashboard") is study


def test_start_returns_quickly(wine_shell) -> None:
    from nbscale.notebook._bundle import warm_up

    warm_up().join()  # the first bundle ever takes longer, once per machine
    started = time.monotonic()
    study = run(wine_shell, f"%nbscale start X y {SMALL} --executor threads")
    elapsed = time.monotonic() - started
    study.wait(timeout=120)
    assert elapsed < 5.0  # the target is 1 s; shared CI machines are slow


def test_trailing_semicolon_silences_the_output(wine_shell, capsys) -> None:
    cell = f"%nbscale start X y {SMALL} --executor inline --name quiet;"
    assert wine_shell.run_cell(cell, store_history=True).success
    out = capsys.readouterr().out
    assert "<nbscale.Study" not in out and "Dashboard" in out
    assert "quiet" in magics._registry.studies


def test_cell_magic_reads_options_from_its_lines(wine_shell) -> None:
    cell = (
        "%%nbscale start X y\n"
        "--sizes 10:40   --samples 2\n"
        "# the first six rows\n"
        "\n"
        "--points 0:6 --store :memory:\n"
        "--executor inline --name from-cell\n"
    )
    run(wine_shell, cell)
    study = magics._registry.studies["from-cell"]
    assert study.wait(timeout=120) and study.n_target == 12


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%nbscale start Z y", "name 'Z' is not defined in the notebook"),
        ("%nbscale start X.shape.nope y", "has no attribute 'nope'"),
        ("%nbscale start X[0] y", "is not a variable name"),
        ("%nbscale start", "needs the variable holding X"),
        ("%nbscale strt X y", "invalid choice: 'strt'"),
        ("%nbscale start X y --samples many", "invalid int value: 'many'"),
        ("%nbscale start X y --sizes 10-40", "--sizes: expected K_MIN:K_MAX"),
        ("%nbscale start X y --points 1:b", "--points: expected START:STOP"),
        (
            "%nbscale start X y --sizes 10:5000 --store :memory:",
            "sizes: expected sizes",
        ),
        ("%nbscale start X y --colour red", "unrecognized arguments: --colour"),
        ("%nbscale stop --sizes 1:2", "--sizes does not apply to '%nbscale stop'"),
        ("%nbscale status extra", "takes no names"),
        ("%nbscale stop", "no study yet"),
        ("%nbscale stop ghost --all", "not both"),
        ("%nbscale resume ghost.nbscale", "is neither a study of this kernel"),
        ("%nbscale start X y --executor threads --scheduler tcp://h:1", "not both"),
    ],
)
def test_mistakes_are_one_line_usage_errors(wine_shell, capsys, line, message) -> None:
    result = wine_shell.run_cell(line)
    assert isinstance(result.error_in_exec, UsageError)
    assert message in str(result.error_in_exec)
    output = capsys.readouterr()
    assert "UsageError" in output.err
    assert "Traceback" not in output.out + output.err


def test_scheduler_without_dask_names_the_extra(wine_shell, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UsageError, match=r"pip install 'nbscale\[distributed\]'"):
        run(wine_shell, f"%nbscale start X y {SMALL} --scheduler tcp://127.0.0.1:1")


def test_scheduler_may_name_a_client_variable(shell, slow_study) -> None:
    client = object()
    shell.user_ns.update(X=[[0.0]], y=[0], client=client)
    study = run(shell, "%nbscale start X y --scheduler client --no-dashboard")
    assert study.calls == ["start"]


def test_status_list_current_pause_resume_stop(shell, slow_study, capsys) -> None:
    shell.user_ns.update(X=[[0.0]], y=[0])
    first = run(shell, "%nbscale start X y --name one --no-dashboard")
    second = run(shell, "%nbscale start X y --name two --no-dashboard")
    assert run(shell, "%nbscale list") == ["one", "two"]
    assert run(shell, "%nbscale current") is second

    run(shell, "%nbscale pause one")
    status = run(shell, "%nbscale status")
    assert status.loc["one", "state"] == "paused"
    assert status.loc["two", "state"] == "running"
    assert bool(status.loc["two", "current"])

    run(shell, "%nbscale resume one")
    assert first.calls[-1] == "resume" and not first.paused
    run(shell, "%nbscale stop --all")
    assert not first.running and not second.running
    out = capsys.readouterr().out
    assert "[nbscale] paused 'one'" in out and "[nbscale] stopped 'two'" in out

    # A stopped study resumes by starting again.
    run(shell, "%nbscale resume two --no-dashboard")
    assert second.running


def test_a_running_name_is_not_reused(shell, slow_study) -> None:
    shell.user_ns.update(X=[[0.0]], y=[0])
    run(shell, "%nbscale start X y --name same --no-dashboard")
    with pytest.raises(UsageError, match="already running"):
        run(shell, "%nbscale start X y --name same --no-dashboard")


def test_studies_in_variables_show_in_status(wine_shell, wine) -> None:
    wine_shell.user_ns["mine"] = nbscale.Study(
        *wine, sizes=(10, 40), samples=1, points=[0], store=":memory:", random_state=0
    )
    status = run(wine_shell, "%nbscale status")
    assert list(status.index) == ["mine"]
    assert status.loc["mine", "state"] == "idle"


def test_status_without_studies_says_so(shell, capsys) -> None:
    assert run(shell, "%nbscale status") is None
    assert "no studies" in capsys.readouterr().out


def test_resume_reopens_a_store(wine_shell, wine, tmp_path) -> None:
    path = tmp_path / "wine.nbscale"
    nbscale.Study(
        *wine, sizes=(10, 40), samples=2, points=[0, 1], store=path, random_state=0
    )
    study = run(wine_shell, f"%nbscale resume {path} --executor inline")
    assert study.wait(timeout=120) and study.n_observations == 4
    assert run(wine_shell, "%nbscale current") is study


def test_registry_survives_reload(shell, slow_study) -> None:
    shell.user_ns.update(X=[[0.0]], y=[0])
    study = run(shell, "%nbscale start X y --name kept --no-dashboard")
    shell.run_line_magic("reload_ext", "nbscale")
    assert run(shell, "%nbscale current") is study


def test_loading_outside_ipython_is_refused() -> None:
    with pytest.raises(TypeError, match="nbscale magics need IPython"):
        magics.load_ipython_extension(object())


TOKENS = [
    "start",
    "stop",
    "pause",
    "resume",
    "status",
    "current",
    "list",
    "X",
    "y",
    "ghost",
    "X.shape",
    "--target",
    "--model",
    "logistic",
    "linear",
    "tree",
    "--sizes",
    "10:40",
    "40:10",
    "0:5",
    "5",
    "a:b",
    "10:5000",
    "--samples",
    "2",
    "-1",
    "0",
    "1e9",
    "--points",
    "0:6",
    "3,4",
    "9:2",
    "x",
    "--store",
    ":memory:",
    "--seed",
    "7",
    "--name",
    "w",
    "--executor",
    "threads",
    "inline",
    "warp",
    "--scheduler",
    "--all",
    "--no-dashboard",
    "--colour",
    "'",
    '"',
    "=",
    ";",
    "%",
    "\\",
]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    tokens=st.lists(st.sampled_from(TOKENS), max_size=9),
    cell=st.one_of(st.none(), st.lists(st.sampled_from(TOKENS), max_size=4)),
)
def test_hostile_lines_give_usage_errors_only(
    wine_shell, monkeypatch, tmp_path, tokens, cell
) -> None:
    # Real validation, no sampling: start() becomes a no-op.
    monkeypatch.setattr(nbscale.Study, "start", lambda self, executor=None: self)
    monkeypatch.chdir(tmp_path)
    source = "%nbscale " + " ".join(tokens)
    if cell is not None:
        source = "%%nbscale " + " ".join(tokens) + "\n" + " ".join(cell)

    result = wine_shell.run_cell(source, silent=True)

    error = result.error_in_exec or result.error_before_exec
    if error is not None:
        assert isinstance(error, UsageError), f"{source!r} raised {error!r}"
        assert "\n" not in str(error).strip(), f"{source!r}: {error}"
