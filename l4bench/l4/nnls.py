"""The project's one least-squares fit: nonnegative coefficients minimizing relative error.

Used by L4's step-time surrogate (cost.fit_affine) and by the profile fits (l4bench.perf.fit), so
both fit the same way. numpy only: Lawson-Hanson active-set NNLS on column-scaled, 1/y-weighted rows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def nnls(a: FloatArray, b: FloatArray, max_iter: int | None = None, tol: float = 1e-12) -> FloatArray:
    """argmin ||a x - b||_2 subject to x >= 0 (Lawson and Hanson's active-set method)."""
    m, n = a.shape
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    grad = a.T @ (b - a @ x)
    scale = tol * max(1.0, float(np.abs(a.T @ b).max(initial=0.0)))
    for _ in range(max_iter if max_iter is not None else 3 * n + 10):
        free = ~passive & (grad > scale)
        if not free.any():
            break
        passive[int(np.argmax(np.where(free, grad, -np.inf)))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            bad = passive & (z <= 0)
            if not bad.any():
                break
            # step from x toward z until the first passive coefficient hits 0, then drop it
            alpha = float(np.min(x[bad] / np.maximum(x[bad] - z[bad], 1e-300)))
            x = x + alpha * (z - x)
            passive &= x > tol * max(1.0, float(np.abs(x).max()))
            x[~passive] = 0.0
        x = z
        grad = a.T @ (b - a @ x)
    return x


def fit_relative(x: FloatArray, y: FloatArray) -> FloatArray:
    """Nonnegative coef minimizing sum(((x @ coef - y) / y)^2): every row counts by its relative error."""
    w = 1.0 / np.maximum(y, 1e-12)
    xw = x * w[:, None]
    scale = np.maximum(np.abs(xw).max(axis=0, initial=0.0), 1e-30)  # column scaling for conditioning
    coef: FloatArray = nnls(xw / scale, y * w) / scale
    return coef
