"""Array backends of the batched engines: numpy on the CPU, torch anywhere.

The engines are written once against the small set of operations below.
NumPy runs them on the CPU one draw at a time, with no padding; torch runs
them on any device (a CUDA GPU in particular) on blocks of draws padded to
a common size. Measured on this project's 2-core CPU, the per-draw numpy
loop was about 1.4x faster than the same Newton iterations in torch, and
1.1-1.8x faster than padded batches in either library, so ``device=None``
means numpy (see benchmarks/README.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Backend", "check_device", "import_torch"]


def import_torch() -> Any:
    """Import torch, or explain which install provides it.

    Examples
    --------
    >>> import_torch().__name__
    'torch'
    """
    try:
        import torch
    except ImportError as err:  # pragma: no cover - torch is a dependency
        raise ImportError(
            "the torch backend of nbscale needs PyTorch; install it with "
            "`pip install torch` (nbscale's dependencies pin a compatible "
            "version), or pass device=None to use numpy"
        ) from err
    return torch


def check_device(device: Any) -> str | None:
    """Validate the ``device`` argument of the batched engines.

    Parameters
    ----------
    device : None, str or torch.device
        None runs numpy on the CPU. Anything else names a torch device:
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or ``"auto"`` for the first
        CUDA GPU when one is available and numpy otherwise.

    Returns
    -------
    str or None
        The normalised device name, or None for numpy.

    Raises
    ------
    ValueError
        If the device is unknown or not available here.

    Examples
    --------
    >>> check_device(None) is None
    True
    >>> check_device("cpu")
    'cpu'
    """
    if device is None:
        return None
    text = str(device)
    if text == "auto":
        torch = import_torch()
        return "cuda" if torch.cuda.is_available() else None
    torch = import_torch()
    try:
        resolved = torch.device(text)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device: expected None, 'auto', 'cpu' or 'cuda[:index]', got {device!r}"
        ) from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device: {device!r} asks for a CUDA GPU, but torch sees none here; "
            f"pass device=None (numpy on the CPU) or device='auto'"
        )
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected a CPU or CUDA device, got {device!r}")
    return str(resolved)


class Backend:
    """The array operations the engines need, for numpy or torch.

    Parameters
    ----------
    device : str or None
        None for numpy; a torch device name otherwise (already checked by
        :func:`check_device`).
    dtype : {"float64", "float32"}, default="float64"

    Examples
    --------
    >>> backend = Backend(None)
    >>> backend.name, backend.block_size
    ('numpy', 1)
    >>> float(backend.sigmoid(backend.asarray([0.0]))[0])
    0.5
    """

    def __init__(self, device: str | None, dtype: str = "float64") -> None:
        self.device = device
        if device is None:
            self.name = "numpy"
            self.xp: Any = np
            self.dtype: Any = np.dtype(dtype)
            # One draw at a time: no padding, and results that cannot depend
            # on which other draws share the batch.
            self.block_size = 1
        else:
            torch = import_torch()
            self.name = "torch"
            self.xp = torch
            self.dtype = getattr(torch, dtype)
            self.block_size = 32 if device.startswith("cuda") else 8

    # ----------------------------------------------------------- conversion
    def asarray(self, values: Any, dtype: Any = None) -> Any:
        """``values`` as an array of this backend (float by default)."""
        if self.name == "numpy":
            return np.asarray(values, dtype=dtype or self.dtype)
        torch = self.xp
        if isinstance(values, torch.Tensor):
            return values.to(device=self.device, dtype=dtype or self.dtype)
        array = np.asarray(values)
        if dtype is None and array.dtype.kind in "iub":
            dtype = torch.int64
        return torch.as_tensor(array, dtype=dtype or self.dtype, device=self.device)

    def index(self, values: Any) -> Any:
        """Integer positions usable to index this backend's arrays."""
        if self.name == "numpy":
            return np.asarray(values, dtype=np.int64)
        return self.xp.as_tensor(
            np.asarray(values, dtype=np.int64), device=self.device
        )

    def numpy(self, values: Any) -> np.ndarray:
        """A float64 numpy copy of a backend array."""
        if self.name == "numpy":
            return np.asarray(values, dtype=np.float64)
        return values.detach().to("cpu", dtype=self.xp.float64).numpy()

    def zeros(self, shape: tuple[int, ...]) -> Any:
        if self.name == "numpy":
            return np.zeros(shape, dtype=self.dtype)
        return self.xp.zeros(shape, dtype=self.dtype, device=self.device)

    def copy(self, values: Any) -> Any:
        return values.copy() if self.name == "numpy" else values.clone()

    # ------------------------------------------------------------ elementwise
    def sigmoid(self, values: Any) -> Any:
        if self.name == "numpy":
            from scipy.special import expit

            return expit(values)
        return self.xp.sigmoid(values)

    def softplus(self, values: Any) -> Any:
        """``log(1 + exp(values))``, exact for large arguments."""
        return self.xp.logaddexp(values * 0.0, values)

    def logsumexp(self, values: Any, axis: int) -> Any:
        if self.name == "numpy":
            from scipy.special import logsumexp

            return logsumexp(values, axis=axis)
        return self.xp.logsumexp(values, dim=axis)

    def softmax(self, values: Any, axis: int) -> Any:
        """Softmax as scikit-learn computes it: shift by the max, normalise."""
        shifted = values - self.amax(values, axis)[..., None]
        exp = self.xp.exp(shifted)
        return exp / exp.sum(axis=axis)[..., None]

    def amax(self, values: Any, axis: int) -> Any:
        if self.name == "numpy":
            return np.max(values, axis=axis)
        return self.xp.amax(values, dim=axis)

    # --------------------------------------------------------- linear algebra
    def cholesky(self, matrices: Any) -> tuple[Any, Any]:
        """Lower Cholesky factors of a stack, and which ones succeeded.

        Returns
        -------
        factors : array of shape (..., n, n)
            Lower-triangular factors (identity where the matrix is not
            positive definite).
        ok : ndarray of bool, shape (...)
        """
        if self.name == "numpy":
            try:
                factors = np.linalg.cholesky(matrices)
                ok = np.ones(matrices.shape[:-2], dtype=bool)
            except np.linalg.LinAlgError:
                return self._cholesky_one_by_one(matrices)
            return factors, ok & np.isfinite(factors).all(axis=(-1, -2))
        factors, info = self.xp.linalg.cholesky_ex(matrices)
        ok = (info == 0) & self.xp.isfinite(factors).all(dim=-1).all(dim=-1)
        return factors, ok.cpu().numpy()

    def _cholesky_one_by_one(self, matrices: np.ndarray) -> tuple[Any, Any]:
        flat = matrices.reshape(-1, *matrices.shape[-2:])
        factors = np.zeros_like(flat)
        ok = np.zeros(len(flat), dtype=bool)
        for i, matrix in enumerate(flat):
            try:
                factors[i] = np.linalg.cholesky(matrix)
                ok[i] = np.isfinite(factors[i]).all()
            except np.linalg.LinAlgError:
                factors[i] = np.eye(matrix.shape[-1])
        shape = matrices.shape[:-2]
        return factors.reshape(matrices.shape), ok.reshape(shape)

    def cho_solve(self, factors: Any, rhs: Any) -> Any:
        """Solve ``H x = rhs`` given lower factors of ``H``; rhs (..., n, m)."""
        if self.name == "numpy":
            from scipy.linalg import cho_solve

            return cho_solve((factors, True), rhs, check_finite=False)
        return self.xp.cholesky_solve(rhs, factors)

    def solve(self, matrices: Any, rhs: Any) -> Any:
        """Solve a stack of small square systems; rhs (..., n, m)."""
        return self.xp.linalg.solve(matrices, rhs)

    def eigvalsh(self, matrices: Any) -> Any:
        return self.xp.linalg.eigvalsh(matrices)
