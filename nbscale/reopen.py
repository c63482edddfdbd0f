"""Stores as studies: lay out a new store, or reopen one and resume.

Reopening trusts nothing in the file: the configuration is JSON, the
dataset raw numeric arrays, and the only classes rebuilt from their names
are scikit-learn estimators (:func:`nbscale.learners.rebuild_model`).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from nbscale.config import dataset_arrays, dataset_from_store, same_study
from nbscale.data import Dataset
from nbscale.exceptions import StoreError
from nbscale.learners import check_model, rebuild_model
from nbscale.metrics import Metric, check_metric
from nbscale.store import SQLiteStore

if TYPE_CHECKING:
    from nbscale.study import Study

__all__ = ["open_or_create", "open_study"]

logger = logging.getLogger(__name__)


def open_or_create(
    path: str | os.PathLike[str], config: dict[str, Any], data: Dataset
) -> SQLiteStore:
    """Reuse a store of the same study, or lay out a new one."""
    store = SQLiteStore(path)
    if store.read_config_or_none() is None:
        store.write_arrays(dataset_arrays(data))
        store.write_config(config)
        return store
    stored = store.read_config()
    if not same_study(stored, config):
        store.close()
        raise StoreError(
            f"store: {os.fspath(path)!r} already holds a different study "
            f"(fingerprint {stored.get('fingerprint')!r}, this one is "
            f"{config['fingerprint']!r}); pass another path, or reopen it "
            f"with nbscale.open"
        )
    # Draw ids run round by round, so a new target extends the same plan;
    # the engine and device may change, since observations do not.
    changed = [k for k in ("samples", "engine", "device") if stored.get(k) != config[k]]
    if changed:
        stored.update({k: config[k] for k in changed})
        store.write_config(stored)
    logger.info("resuming study %s from %s", config["fingerprint"], path)
    return store


def open_study(
    path: str | os.PathLike[str], *, model: Any = None, metric: Any = None
) -> Study:
    """Reopen a study from its store; resume it with run() or start().

    Parameters
    ----------
    path : str or path
        The store file.
    model : estimator, optional
        Needed only to resume a study whose estimator the store cannot
        rebuild (a class outside scikit-learn, or parameters that are not
        plain JSON). Nothing named in a store is imported except
        scikit-learn classes.
    metric : callable, optional
        Needed only to resume a study that used a callable metric.

    Returns
    -------
    Study

    Raises
    ------
    nbscale.StoreError
        If the file is missing, damaged, foreign or of another schema
        version.

    Examples
    --------
    >>> import os, tempfile, nbscale
    >>> from sklearn.datasets import load_wine
    >>> X, y = load_wine(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "wine.nbscale")
    >>> _ = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0, 1],
    ...                   store=path, random_state=0).run(progress=False)
    >>> nbscale.open(path).n_observations
    2
    """
    store = SQLiteStore(path, create=False)
    try:
        config = store.read_config()
        data = dataset_from_store(config, store.read_arrays())
        resolved_model = model if model is not None else rebuild_model(config["model"])
        if resolved_model is not None:
            resolved_model = check_model(
                resolved_model, is_classifier=data.is_classifier
            )
        if metric is not None:
            resolved_metric: Metric | None = check_metric(
                metric, is_classifier=data.is_classifier
            )
        elif config.get("metric_builtin", True):
            resolved_metric = check_metric(
                config["metric"], is_classifier=data.is_classifier
            )
        else:
            resolved_metric = None
    except (KeyError, TypeError, ValueError) as err:
        store.close()
        if isinstance(err, StoreError):
            raise
        raise StoreError(
            f"path: {os.fspath(path)!r} holds a damaged study configuration ({err})"
        ) from err

    from nbscale.study import Study

    study = Study.__new__(Study)
    study._setup(store, config, data, resolved_model, resolved_metric)
    return study
