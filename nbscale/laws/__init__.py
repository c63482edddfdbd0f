"""Scaling-law estimators: per-point laws and the dataset-level curve.

A data point's expected marginal contribution at training-set size ``k`` is
modelled as ``psi_k = c * k**-alpha`` (Covert et al., ICML 2024). The
estimators here are pure functions of observations ``(point, size,
delta)``, vectorised over points:

- :func:`fit_laws` fits ``c``, ``alpha`` and the noise parameters of every
  point, by maximum likelihood (default) or by least squares in log space;
- :func:`fit_amortized` trains one network that maps a point's features
  to its law, sharing information between points (few observations each);
- :func:`fit_aggregate` fits ``loss(k) = epsilon + C * k**-a`` to the
  validation losses of the whole dataset.

The array-level engines live in :mod:`nbscale.laws.likelihood`,
:mod:`nbscale.laws.loglinear` and :mod:`nbscale.laws.amortized`.
"""

from __future__ import annotations

from nbscale.laws.aggregate import fit_aggregate
from nbscale.laws.amortized import fit_amortized
from nbscale.laws.fit import LAW_COLUMNS, empirical_prior, fit_laws
from nbscale.laws.likelihood import Prior

__all__ = [
    "LAW_COLUMNS",
    "Prior",
    "empirical_prior",
    "fit_aggregate",
    "fit_amortized",
    "fit_laws",
]
