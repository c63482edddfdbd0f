"""The ``%nbscale`` line and cell magics.

``%load_ext nbscale`` registers them. One line starts a study on variables
of the notebook, shows its live dashboard and hands the study back while
sampling continues in the background::

    %load_ext nbscale
    %nbscale start X y --model logistic --sizes 100:1000 --samples 100
    study = %nbscale current
    %nbscale status
    %nbscale stop

The studies a kernel knows live in a module-level registry, so they
survive ``%reload_ext nbscale``. Every mistake a user can make (a name
that is not defined, a bad option, a study that does not exist) is
reported as one :class:`~IPython.core.error.UsageError` line, never as a
traceback from inside the magic.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.process import arg_split

__all__ = ["NbscaleMagics", "load_ipython_extension", "unload_ipython_extension"]

logger = logging.getLogger(__name__)

COMMANDS = ("start", "status", "stop", "pause", "resume", "current", "list")

# Options that only make sense for ``start`` (and, some, ``resume``).
_START_OPTIONS = (
    "target",
    "model",
    "sizes",
    "samples",
    "points",
    "validation",
    "metric",
    "schedule",
    "store",
    "seed",
    "name",
)
_RUN_OPTIONS = ("executor", "scheduler", "no_dashboard")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class _Registry:
    """The studies started or reopened in this kernel, by name."""

    def __init__(self) -> None:
        self.studies: dict[str, Any] = {}
        self.dashboards: dict[str, Any] = {}
        self.current: str | None = None

    def add(self, name: str, study: Any, dashboard: Any | None) -> None:
        self.studies[name] = study
        if dashboard is not None:
            self.dashboards[name] = dashboard
        self.current = name


_registry = _Registry()


@magics_class
class NbscaleMagics(Magics):
    """IPython magics that run nbscale studies from notebook cells.

    Examples
    --------
    >>> from IPython.core.interactiveshell import InteractiveShell
    >>> shell = InteractiveShell.instance()
    >>> shell.register_magics(NbscaleMagics)
    >>> "nbscale" in shell.magics_manager.magics["line"]
    True
    >>> InteractiveShell.clear_instance()
    """

    @magic_arguments()
    @argument(
        "command",
        choices=COMMANDS,
        help="What to do: start a study, report the status of all, stop, "
        "pause or resume one, return the current one, or list their names.",
    )
    @argument(
        "names",
        nargs="*",
        help="start: the variables holding X and (optionally) y. "
        "stop / pause: a study name (default the current study). "
        "resume: a study name or the path of a store file.",
    )
    @argument("--target", help="Label column of a DataFrame X (instead of y).")
    @argument(
        "--model",
        help="'logistic', 'linear', 'ridge', or the name of a variable holding "
        "a scikit-learn estimator. Default 'logistic'.",
    )
    @argument(
        "--sizes", help="Subset sizes: K_MIN:K_MAX, or K1,K2,... Default 100:1000."
    )
    @argument("--samples", type=int, help="Observations per point. Default 100.")
    @argument(
        "--points",
        help="Rows to study: START:STOP, I1,I2,..., or a variable name. Default all.",
    )
    @argument("--validation", type=float, help="Validation fraction. Default 0.2.")
    @argument(
        "--metric", help="Validation loss, e.g. 'accuracy'; default log loss / MSE."
    )
    @argument(
        "--schedule", choices=("uniform", "geometric"), help="How sizes are drawn."
    )
    @argument("--store", help="SQLite file of observations; ':memory:' keeps none.")
    @argument("--seed", type=int, help="Random seed (random_state).")
    @argument(
        "--name", help="Name of the study in this kernel; default its fingerprint."
    )
    @argument(
        "--executor",
        choices=("processes", "threads", "inline"),
        help="Where fits run; default local processes.",
    )
    @argument(
        "--scheduler",
        help="Address of a dask.distributed scheduler (or a variable holding a "
        "Client) to run fits on; needs nbscale[distributed].",
    )
    @argument(
        "--all", action="store_true", dest="every", help="stop / pause: every study."
    )
    @argument(
        "--no-dashboard",
        action="store_true",
        dest="no_dashboard",
        help="start / resume: do not display the dashboard.",
    )
    @line_cell_magic
    def nbscale(self, line: str, cell: str | None = None) -> Any:
        """Run nbscale studies in the background from a notebook.

        Start sampling on variables of the notebook; a live dashboard
        appears under the cell and the study comes back at once, while
        sampling continues in the background. End the line with ``;`` to
        show only the dashboard: the magic then returns None, and the study
        stays at hand as ``%nbscale current``.

        As a cell magic, ``%%nbscale COMMAND ...`` reads further options
        from the cell, one or more per line (blank lines and lines starting
        with ``#`` are ignored)::

            %%nbscale start X y
            --model logistic
            --sizes 100:1000   --samples 100
            --store digits.nbscale

        Examples::

            %nbscale start X y --sizes 100:1000 --samples 50
            %nbscale start df --target label --model clf --points 0:500
            study = %nbscale current
            %nbscale status
            %nbscale pause
            %nbscale stop digits
            %nbscale resume digits.nbscale
            names = %nbscale list
        """
        args = self._parse(line, cell)
        handler = getattr(self, f"_{args.command}")
        result = handler(args)
        # IPython (8.12 at least) shows a line magic's value despite a
        # trailing ';', so the magic honours the ';' itself.
        return None if line.rstrip().endswith(";") else result

    # ------------------------------------------------------------ parsing
    def _parse(self, line: str, cell: str | None) -> Any:
        # IPython hands the magic its line with the silencing ';' still on.
        text = line.rstrip().removesuffix(";")
        if cell is not None:
            kept = [
                row.strip()
                for row in cell.splitlines()
                if row.strip() and not row.strip().startswith("#")
            ]
            text = " ".join([text, *kept])
        parser = self.nbscale.parser
        try:
            words = arg_split(text)
        except ValueError as err:  # shlex: an unbalanced quote
            raise UsageError(f"%nbscale: cannot split the options: {err}") from None
        args = parser.parse_intermixed_args(words)
        allowed = {
            "start": _START_OPTIONS + _RUN_OPTIONS,
            "resume": _RUN_OPTIONS,
            "stop": ("every",),
            "pause": ("every",),
        }.get(args.command, ())
        for option in (*_START_OPTIONS, *_RUN_OPTIONS, "every"):
            if option not in allowed and getattr(args, option) not in (None, False):
                flag = "--all" if option == "every" else "--" + option.replace("_", "-")
                raise UsageError(f"{flag} does not apply to '%nbscale {args.command}'")
        return args

    # ------------------------------------------------------------ commands
    def _start(self, args: Any) -> Any:
        import nbscale

        # Resolve the notebook names into objects.
        if not 1 <= len(args.names) <= 2:
            raise UsageError(
                "%nbscale start needs the variable holding X and, unless "
                f"--target names a column, the one holding y; got {args.names!r}"
            )
        X = self._lookup(args.names[0])
        y = self._lookup(args.names[1]) if len(args.names) == 2 else None
        options: dict[str, Any] = {}
        for name in ("target", "samples", "validation", "metric", "schedule", "store"):
            if getattr(args, name) is not None:
                options[name] = getattr(args, name)
        if args.model is not None:
            options["model"] = self._model(args.model)
        if args.sizes is not None:
            options["sizes"] = _parse_sizes(args.sizes)
        if args.points is not None:
            options["points"] = self._points(args.points)
        if args.seed is not None:
            options["random_state"] = args.seed
        executor = self._executor(args)

        # Build the study; a running one on the same store is reused.
        try:
            study = nbscale.Study(X, y, **options)
        except (TypeError, ValueError) as err:
            raise UsageError(f"%nbscale start: {err}") from err
        name = args.name or str(study.name)
        running = self._running_on(study.store_path)
        if running is not None:
            logger.info("%s already runs on %s", running[0], study.store_path)
            name, study = running
        elif name in _registry.studies and _registry.studies[name].running:
            raise UsageError(
                f"a study named {name!r} is already running; stop it with "
                f"'%nbscale stop {name}' or choose another --name"
            )
        return self._launch(name, study, executor, show=not args.no_dashboard)

    def _resume(self, args: Any) -> Any:
        import nbscale

        if len(args.names) > 1:
            raise UsageError(
                f"%nbscale resume takes one name or path, got {args.names!r}"
            )
        executor = self._executor(args)
        target = args.names[0] if args.names else None
        if target is None or target in _registry.studies:
            name, study = self._find(target)
            if study.paused:
                study.resume()
                print(f"[nbscale] resumed {name!r}")
                return study
            if study.running:
                print(f"[nbscale] {name!r} is already running")
                return study
        elif os.path.exists(target):
            try:
                study = nbscale.open(target)
            except (TypeError, ValueError) as err:
                raise UsageError(f"%nbscale resume: {err}") from err
            name = str(study.name)
            running = self._running_on(study.store_path)
            if running is not None:
                return running[1]
        else:
            raise UsageError(
                f"%nbscale resume: {target!r} is neither a study of this kernel "
                f"({', '.join(_registry.studies) or 'none yet'}) nor a store file"
            )
        return self._launch(name, study, executor, show=not args.no_dashboard)

    def _launch(self, name: str, study: Any, executor: Any, *, show: bool) -> Any:
        """Start a study, register it and display its dashboard."""
        from IPython.display import display

        dashboard = _registry.dashboards.get(name)
        if dashboard is not None and (dashboard.study is not study or dashboard.closed):
            dashboard = None
        if show and dashboard is None:
            dashboard = study.dashboard()
        try:
            study.start(executor)
        except (TypeError, ValueError) as err:
            if dashboard is not None:
                dashboard.close()
            raise UsageError(f"%nbscale: could not start {name!r}: {err}") from err
        _registry.add(name, study, dashboard)
        if show and dashboard is not None:
            display(dashboard)
        return study

    def _stop(self, args: Any) -> None:
        for name, study in self._targets(args):
            study.stop()
            print(
                f"[nbscale] stopped {name!r}: {study.n_observations} of "
                f"{study.n_target} observations kept"
            )

    def _pause(self, args: Any) -> None:
        for name, study in self._targets(args):
            study.pause()
            print(f"[nbscale] paused {name!r}; '%nbscale resume {name}' continues")

    def _current(self, args: Any) -> Any:
        self._no_names(args)
        return self._find(None)[1]

    def _list(self, args: Any) -> list[str]:
        self._no_names(args)
        return list(self._known())

    def _status(self, args: Any) -> pd.DataFrame | None:
        self._no_names(args)
        studies = self._known()
        if not studies:
            print(
                "[nbscale] no studies in this kernel yet; start one with %nbscale start"
            )
            return None
        rows = []
        for name, study in studies.items():
            progress = study.progress()
            state = (
                "done" if progress["n_observations"] >= progress["n_target"] else "idle"
            )
            if progress["running"]:
                state = "paused" if progress["paused"] else "running"
            rows.append(
                {
                    "name": name,
                    "state": state,
                    "observations": progress["n_observations"],
                    "target": progress["n_target"],
                    "failures": progress["n_failures"],
                    "points covered": progress["n_points_covered"],
                    "rate (obs/s)": round(float(progress["rate"]), 1),
                    "eta (s)": progress["eta_seconds"],
                    "store": study.store_path,
                    "current": name == _registry.current,
                }
            )
        return pd.DataFrame(rows).set_index("name")

    # ------------------------------------------------------------ helpers
    @property
    def _user_ns(self) -> dict[str, Any]:
        """The notebook's variables."""
        if self.shell is None:
            raise UsageError("the nbscale magics are not attached to an IPython shell")
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    def _lookup(self, name: str) -> Any:
        """A variable of the notebook, by name or dotted attribute path."""
        if not _IDENTIFIER.match(name):
            raise UsageError(
                f"{name!r} is not a variable name; assign the data to a "
                f"variable first, e.g. X = ..."
            )
        head, *attributes = name.split(".")
        namespace = self._user_ns
        if head not in namespace:
            raise UsageError(f"name {head!r} is not defined in the notebook")
        value = namespace[head]
        for attribute in attributes:
            if not hasattr(value, attribute):
                raise UsageError(f"{name!r}: {head!r} has no attribute {attribute!r}")
            value = getattr(value, attribute)
        return value

    def _model(self, text: str) -> Any:
        """A notebook variable holding an estimator, else the model's name."""
        head = text.split(".")[0]
        if _IDENTIFIER.match(text) and head in self._user_ns:
            return self._lookup(text)
        return text

    def _points(self, text: str) -> Any:
        if _IDENTIFIER.match(text):
            return self._lookup(text)
        try:
            if ":" in text:
                start, stop = (int(part) for part in text.split(":"))
                return list(range(start, stop))
            return [int(part) for part in text.split(",") if part.strip()]
        except ValueError as err:
            raise UsageError(
                f"--points: expected START:STOP, I1,I2,... or a variable name, "
                f"got {text!r}"
            ) from err

    def _executor(self, args: Any) -> Any:
        if args.scheduler is None:
            return args.executor
        if args.executor is not None:
            raise UsageError("pass either --executor or --scheduler, not both")
        if _IDENTIFIER.match(args.scheduler) and args.scheduler in self._user_ns:
            return self._lookup(args.scheduler)
        return _dask_client(args.scheduler)

    def _known(self) -> dict[str, Any]:
        """Registered studies, then Study objects held by notebook variables."""
        import nbscale

        known = dict(_registry.studies)
        seen = {id(study) for study in known.values()}
        for variable, value in list(self._user_ns.items()):
            if isinstance(value, nbscale.Study) and id(value) not in seen:
                if not variable.startswith("_"):
                    known[variable] = value
                    seen.add(id(value))
        return known

    def _find(self, name: str | None) -> tuple[str, Any]:
        if name is None:
            if _registry.current is None:
                raise UsageError("no study yet: start one with '%nbscale start X y'")
            name = _registry.current
        known = self._known()
        if name not in known:
            raise UsageError(
                f"no study named {name!r}; known: {', '.join(known) or 'none'}"
            )
        return name, known[name]

    def _targets(self, args: Any) -> list[tuple[str, Any]]:
        if args.every:
            if args.names:
                raise UsageError("pass study names or --all, not both")
            return list(self._known().items())
        if len(args.names) > 1:
            return [self._find(name) for name in args.names]
        return [self._find(args.names[0] if args.names else None)]

    def _running_on(self, path: str | None) -> tuple[str, Any] | None:
        """A registered, running study that writes to ``path``."""
        if path is None or path == ":memory:":
            return None
        for name, study in _registry.studies.items():
            if study.running and study.store_path == path:
                return name, study
        return None

    @staticmethod
    def _no_names(args: Any) -> None:
        if args.names:
            raise UsageError(
                f"'%nbscale {args.command}' takes no names, got {args.names!r}"
            )


def _parse_sizes(text: str) -> Any:
    """``"100:1000"`` to ``(100, 1000)``; ``"10,20,40"`` to ``[10, 20, 40]``."""
    try:
        if ":" in text:
            low, high = (int(part) for part in text.split(":"))
            return (low, high)
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise UsageError(
            f"--sizes: expected K_MIN:K_MAX or K1,K2,..., got {text!r}"
        ) from err


def _dask_client(address: str) -> Any:
    """Connect to a dask scheduler, with errors a user can act on."""
    try:
        from distributed import Client
    except ImportError as err:
        raise UsageError(
            "--scheduler needs dask.distributed: pip install 'nbscale[distributed]'"
        ) from err
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as err:
        raise UsageError(f"--scheduler: cannot reach {address!r}: {err}") from err


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%nbscale`` magics (``%load_ext nbscale``).

    Also starts preparing the dashboard's front-end in the background, so
    the first ``%nbscale start`` returns quickly.

    Parameters
    ----------
    ipython : IPython.core.interactiveshell.InteractiveShell
        The running shell.

    Raises
    ------
    TypeError
        If ``ipython`` is not an IPython shell (not running under IPython).

    Examples
    --------
    >>> from IPython.core.interactiveshell import InteractiveShell
    >>> shell = InteractiveShell.instance()
    >>> load_ipython_extension(shell)
    >>> "nbscale" in shell.magics_manager.magics["cell"]
    True
    >>> unload_ipython_extension(shell)
    >>> InteractiveShell.clear_instance()
    """
    from IPython.core.interactiveshell import InteractiveShell

    if not isinstance(ipython, InteractiveShell):
        raise TypeError(
            f"nbscale magics need IPython: expected an InteractiveShell, got "
            f"{type(ipython).__name__}; run '%load_ext nbscale' in IPython or Jupyter"
        )
    ipython.register_magics(NbscaleMagics)

    from nbscale.notebook._bundle import warm_up

    warm_up()


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the ``%nbscale`` magics (``%unload_ext nbscale``).

    Running studies keep running; ``%load_ext nbscale`` finds them again.

    Parameters
    ----------
    ipython : IPython.core.interactiveshell.InteractiveShell
        The running shell.

    Examples
    --------
    >>> from IPython.core.interactiveshell import InteractiveShell
    >>> shell = InteractiveShell.instance()
    >>> load_ipython_extension(shell)
    >>> unload_ipython_extension(shell)
    >>> "nbscale" in shell.magics_manager.magics["line"]
    False
    >>> InteractiveShell.clear_instance()
    """
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        manager.magics[kind].pop("nbscale", None)
    manager.registry.pop(NbscaleMagics.__name__, None)
