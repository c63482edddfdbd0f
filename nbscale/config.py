"""Study configuration: JSON in, JSON out, and the default store path.

A study's configuration is everything needed to regenerate its draws, as
plain JSON. Together with the arrays of its :class:`~nbscale.data.Dataset`
it makes a store self-contained: :func:`nbscale.open` rebuilds the study
from the file alone, without unpickling anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

from nbscale.data import Dataset

__all__ = [
    "check_random_state",
    "check_samples",
    "dataset_arrays",
    "dataset_from_store",
    "default_store_path",
    "study_fingerprint",
]

# Keys that decide which draws a study makes; a store is reused only when
# all of them match.
_IDENTITY_KEYS = (
    "model",
    "metric",
    "window",
    "grid",
    "points",
    "root_seed",
    "task",
    "allocation",
)

# Keys that join the identity only when they differ from their defaults, so
# the fingerprints of studies made before they existed stay the same.
# "engine" and "device" are not among them: the engines agree within 1e-6,
# except for "mlp", whose training procedure is recorded as "trainer".
_OPTIONAL_IDENTITY: dict[str, Any] = {
    "design": "paired",
    "group_size": None,
    "trainer": None,
}


def check_random_state(random_state: Any) -> int:
    """Normalise ``random_state`` to a root seed in ``[0, 2**63)``.

    None draws fresh entropy; the seed is stored, so the run stays
    reproducible afterwards.

    Examples
    --------
    >>> check_random_state(3)
    3
    """
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise TypeError(
            f"random_state: expected None or a non-negative int, got {random_state!r}"
        )
    if random_state < 0:
        raise ValueError(
            f"random_state: expected a non-negative int, got {random_state!r}"
        )
    return int(random_state) % (2**63)


def check_samples(samples: Any) -> int:
    """Validate ``samples``, the number of observations per point.

    Examples
    --------
    >>> check_samples(30)
    30
    """
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer):
        raise TypeError(f"samples: expected a positive int, got {samples!r}")
    if samples < 1:
        raise ValueError(f"samples: expected at least 1, got {samples!r}")
    return int(samples)


def _json_labels(labels: list[Any]) -> dict[str, Any]:
    """Row labels as JSON: a range when they are positions."""
    if labels == list(range(len(labels))):
        return {"kind": "range", "n": len(labels)}
    plain = [_plain(v) for v in labels]
    return {"kind": "list", "values": plain}


def _plain(value: Any) -> Any:
    """A JSON-safe scalar for a label or class value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def dataset_arrays(data: Dataset) -> dict[str, np.ndarray]:
    """The numeric arrays of a dataset, for :meth:`SQLiteStore.write_arrays`.

    Examples
    --------
    >>> from nbscale.data import check_dataset
    >>> data = check_dataset(np.eye(6), [0, 1] * 3, validation=0.4)
    >>> sorted(dataset_arrays(data))
    ['X_train', 'X_val', 'rows', 'y_train', 'y_val']
    """
    target_dtype = np.int64 if data.is_classifier else np.float64
    return {
        "X_train": data.X_train.astype(np.float64),
        "y_train": data.y_train.astype(target_dtype),
        "X_val": data.X_val.astype(np.float64),
        "y_val": data.y_val.astype(target_dtype),
        "rows": data.rows.astype(np.int64),
    }


def dataset_config(data: Dataset) -> dict[str, Any]:
    """The non-array part of a dataset as JSON-safe values."""
    classes = None if data.classes is None else [_plain(c) for c in data.classes]
    return {
        "task": "classification" if data.is_classifier else "regression",
        "classes": classes,
        "labels": _json_labels(data.labels),
        "feature_names": list(data.feature_names),
    }


def dataset_from_store(
    config: dict[str, Any], arrays: dict[str, np.ndarray]
) -> Dataset:
    """Rebuild a :class:`Dataset` from a store's configuration and arrays."""
    labels_spec = config["labels"]
    if labels_spec.get("kind") == "range":
        labels: list[Any] = list(range(int(labels_spec["n"])))
    else:
        labels = list(labels_spec["values"])
    classes = config.get("classes")
    return Dataset(
        X_train=arrays["X_train"],
        y_train=arrays["y_train"],
        X_val=arrays["X_val"],
        y_val=arrays["y_val"],
        rows=arrays["rows"],
        labels=labels,
        classes=None if classes is None else np.asarray(classes),
        feature_names=list(config.get("feature_names", [])),
    )


def study_fingerprint(config: dict[str, Any], data: Dataset) -> str:
    """A hash of what decides a study's observations: config and data.

    Examples
    --------
    >>> from nbscale.data import check_dataset
    >>> data = check_dataset(np.eye(6), [0, 1] * 3, validation=0.4)
    >>> len(study_fingerprint({"samples": 1}, data))
    16
    """
    digest = hashlib.sha256()
    identity = {k: config.get(k) for k in _IDENTITY_KEYS}
    identity.update(
        {
            k: config[k]
            for k, default in _OPTIONAL_IDENTITY.items()
            if config.get(k, default) != default
        }
    )
    digest.update(json.dumps(identity, sort_keys=True).encode())
    for name, array in sorted(dataset_arrays(data).items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def same_study(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a stored configuration describes the same draws."""
    return stored.get("fingerprint") == wanted.get("fingerprint")


def default_store_path(fingerprint: str) -> str:
    """``.nbscale/study-<fingerprint>.nbscale`` in the working directory.

    Examples
    --------
    >>> path = default_store_path("abc")
    >>> path.endswith(os.path.join(".nbscale", "study-abc.nbscale"))
    True
    """
    return os.path.join(os.getcwd(), ".nbscale", f"study-{fingerprint}.nbscale")
