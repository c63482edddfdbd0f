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

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["Backend", "check_device", "import_torch", "single_threaded"]


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


@contextmanager
def single_threaded(device: str | None) -> Iterator[None]:
    """Run BLAS, and torch on the CPU, on one thread inside the block.

    The engines issue many small products, for which one thread is
    fastest, and a busy machine makes extra threads far slower (measured:
    18x for the MLP engine on 2 shared cores). Parallelism comes from
    worker processes instead. Thread counts are process-wide, so they are
    restored on exit.

    Examples
    --------
    >>> with single_threaded(None):
    ...     pass
    """
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    on_cpu = torch is not None and (device is None or device.startswith("cpu"))
    previous = torch.get_num_threads() if on_cpu else 0
    with threadpool_limits(limits=1, user_api="blas"):
        if on_cpu:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if on_cpu:
                torch.set_num_threads(previous)


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
    ('numpy', 64)
    >>> float(backend.sigmoid(backend.asarray([0.0]))[0])
    0.5
    """

    def __init__(self, device: str | None, dtype: str = "float64") -> None:
        self.device = device
        if device is None:
            self.name = "numpy"
            self.xp: Any = np
            self.dtype: Any = np.dtype(dtype)
            # Small draws go many to a block, large ones alone (see
            # nbscale.learners._batched._blocks).
            self.block_size = 64
            self.block_rows = 4096
        else:
            torch = import_torch()
            self.name = "torch"
            self.xp = torch
            self.dtype = getattr(torch, dtype)
            gpu = device.startswith("cuda")
            self.block_size = 256 if gpu else 32
            self.block_rows = 131_072 if gpu else 8192

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
        return self.xp.as_tensor(np.asarray(values, dtype=np.int64), device=self.device)

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

    def cast(self, values: Any) -> Any:
        """``values`` (for example booleans) as this backend's float type."""
        if self.name == "numpy":
            return values.astype(self.dtype)
        return values.to(self.dtype)

    def arange(self, n: int) -> Any:
        """``0, 1, ..., n - 1`` as floats."""
        return self.asarray(np.arange(n, dtype=np.float64))

    def eye(self, n: int) -> Any:
        return self.asarray(np.eye(n))

    def where(self, condition: np.ndarray, a: Any, b: Any) -> Any:
        """Elementwise choice; ``condition`` (numpy bool) broadcasts from the left."""
        shape = condition.shape + (1,) * (len(a.shape) - condition.ndim)
        mask = condition.reshape(shape)
        if self.name == "numpy":
            return np.where(mask, a, b)
        return self.xp.where(self.xp.as_tensor(mask, device=self.device), a, b)

    def repeat(self, values: Any, n: int, axis: int) -> Any:
        """``n`` copies of ``values`` along a new axis ``axis``."""
        if self.name == "numpy":
            return np.repeat(np.expand_dims(values, axis), n, axis=axis)
        return (
            self.xp.stack([values] * n, dim=axis)
            if n
            else (values.unsqueeze(axis)[(slice(None),) * axis + (slice(0, 0),)])
        )

    def permute(self, values: Any, axes: tuple[int, ...]) -> Any:
        if self.name == "numpy":
            return values.transpose(axes)
        return values.permute(axes)

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
            # scipy's version costs ~0.3 ms of checks per call; this is it.
            top = np.max(values, axis=axis, keepdims=True)
            total = np.sum(np.exp(values - top), axis=axis)
            return np.log(total) + np.squeeze(top, axis=axis)
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
            return self._cholesky_one_by_one(matrices)
        factors, info = self.xp.linalg.cholesky_ex(matrices)
        ok = (info == 0) & self.xp.isfinite(factors).all(dim=-1).all(dim=-1)
        return factors, ok.cpu().numpy()

    def _cholesky_one_by_one(self, matrices: np.ndarray) -> tuple[Any, Any]:
        # LAPACK directly: the numpy and scipy wrappers cost more than the
        # factorisation itself at these sizes.
        from scipy.linalg.lapack import dpotrf

        flat = matrices.reshape(-1, *matrices.shape[-2:])
        factors = np.empty_like(flat)
        ok = np.zeros(len(flat), dtype=bool)
        for i, matrix in enumerate(flat):
            factor, info = dpotrf(matrix, lower=1, clean=1)
            ok[i] = info == 0 and bool(np.isfinite(factor).all())
            factors[i] = factor if ok[i] else np.eye(matrix.shape[-1])
        return factors.reshape(matrices.shape), ok.reshape(matrices.shape[:-2])

    def cho_solve(self, factors: Any, rhs: Any) -> Any:
        """Solve ``H x = rhs`` given lower factors of ``H``; rhs (..., n, m)."""
        if self.name == "numpy":
            from scipy.linalg.lapack import dpotrs

            out = np.empty(
                np.broadcast_shapes(factors.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:]
            )
            factors_b = np.broadcast_to(factors, out.shape[:-2] + factors.shape[-2:])
            rhs_b = np.broadcast_to(rhs, out.shape)
            for index in np.ndindex(out.shape[:-2]):
                out[index] = dpotrs(factors_b[index], rhs_b[index], lower=1)[0]
            return out
        return self.xp.cholesky_solve(rhs, factors)

    def solve(self, matrices: Any, rhs: Any) -> Any:
        """Solve a stack of small square systems; rhs (..., n, m)."""
        return self.xp.linalg.solve(matrices, rhs)

    def eigvalsh(self, matrices: Any) -> Any:
        return self.xp.linalg.eigvalsh(matrices)
