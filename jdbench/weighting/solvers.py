"""Small exact solvers on Gram matrices (K x K, K = number of objectives), in float64 numpy.

- :func:`min_norm_solver`: the min-norm point of the convex hull of the gradients (MGDA).
- :func:`nash_solver`: the Nash bargaining weights ``G^T G a = 1 / a, a > 0`` (Nash-MTL).
- :func:`cagrad_solver`: CAGrad's inner problem on the simplex.
"""
from itertools import combinations
from typing import Tuple

import numpy as np


def _sym(gram) -> np.ndarray:
    m = np.asarray(gram, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f'expected a square Gram matrix, got shape {m.shape}')
    return 0.5 * (m + m.T)


def min_norm_2(g11: float, g12: float, g22: float) -> float:
    """Weight ``a`` on the first vector of ``min_a |a g1 + (1 - a) g2|^2``, ``a in [0, 1]`` (closed form)."""
    denom = g11 - 2 * g12 + g22
    if denom <= 1e-20:
        return 0.5
    return float(np.clip((g22 - g12) / denom, 0.0, 1.0))


def min_norm_solver(gram, max_enumerate: int = 12, iters: int = 5000) -> np.ndarray:
    """``argmin_{a in simplex} a^T M a``: the min-norm element of the convex hull of the gradients.

    Exact: K = 2 in closed form; K <= ``max_enumerate`` by enumerating the supports and solving each one's KKT
    system (the minimiser with the smallest support has a non-singular system); larger K (approximately) by
    accelerated projected gradient descent.
    """
    m = _sym(gram)
    k = m.shape[0]
    if k == 1:
        return np.ones(1)
    if k == 2:
        a = min_norm_2(m[0, 0], m[0, 1], m[1, 1])
        return np.array([a, 1.0 - a])
    if k > max_enumerate:
        return _projected_gradient(m / max(np.abs(np.diag(m)).max(), 1e-300), iters)
    scale = max(np.abs(np.diag(m)).max(), 1e-300)
    ms = m / scale
    best, best_val = None, np.inf
    for size in range(1, k + 1):
        for support in combinations(range(k), size):
            idx = list(support)
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size] = 2 * ms[np.ix_(idx, idx)]
            kkt[:size, size] = -1.0
            kkt[size, :size] = 1.0
            rhs = np.zeros(size + 1)
            rhs[size] = 1.0
            sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:size]
            if not np.all(np.isfinite(sol)) or sol.min() < -1e-10 or abs(sol.sum() - 1) > 1e-8:
                continue
            a = np.zeros(k)
            a[idx] = np.clip(sol, 0.0, None)
            a /= a.sum()
            val = a @ ms @ a
            if val < best_val - 1e-14 * max(1.0, abs(best_val) if np.isfinite(best_val) else 1.0):
                best, best_val = a, val
    return best if best is not None else np.full(k, 1.0 / k)


def _project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (sort-based)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    idx = np.arange(1, len(v) + 1)
    rho = np.nonzero(u - css / idx > 0)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1), 0.0)


def _projected_gradient(m: np.ndarray, iters: int) -> np.ndarray:
    """Accelerated projected gradient (FISTA) on ``a^T M a`` over the simplex, for many objectives."""
    k = m.shape[0]
    lip = 2 * max(np.linalg.eigvalsh(m).max(), 1e-300)
    a = y = np.full(k, 1.0 / k)
    t = 1.0
    for _ in range(iters):
        new = _project_simplex(y - 2 * (m @ y) / lip)
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        y = new + (t - 1) / t_new * (new - a)
        if np.abs(new - a).max() < 1e-15:
            a = new
            break
        a, t = new, t_new
    return a


def nash_solver(gram, tol: float = 1e-12, max_iter: int = 100, ridge: float = 0.0) -> np.ndarray:
    """The positive solution of ``M a = 1 / a`` (elementwise), ``M = G^T G``: Nash-MTL's bargaining weights.

    ``M a = 1/a`` is the stationarity condition of the strictly convex ``f(a) = a^T M a / 2 - sum_i log a_i``
    on ``a > 0``; it is minimised by damped Newton steps (Hessian ``M + diag(1/a^2)``) with a backtracking
    line search that keeps ``a > 0``, to ``max_i |a_i (M a)_i - 1| < tol``. The problem is solved on ``M / s``
    (``s`` = mean diagonal) and rescaled (``a = a_s / sqrt(s)``), so the solution does not depend on the
    gradients' scale. An objective whose gradient is zero gets ``a = 0`` (no bargaining solution exists for
    it). If the gradients admit a positive combination equal to zero, ``f`` is unbounded; then a small ridge
    is added (documented).
    """
    m = _sym(gram)
    k = m.shape[0]
    diag = np.diag(m)
    active = diag > 1e-20 * max(diag.max(), 1e-300)
    alpha = np.zeros(k)
    if not active.any():
        return alpha
    ma = m[np.ix_(active, active)]
    scale = float(np.mean(np.diag(ma)))
    mn = ma / scale + ridge * np.eye(ma.shape[0])

    def f(a: np.ndarray) -> float:
        return 0.5 * a @ mn @ a - np.log(a).sum()

    a = 1.0 / np.sqrt(np.diag(mn))
    converged = False
    for _ in range(max_iter):
        ma_ = mn @ a
        if np.abs(a * ma_ - 1.0).max() < tol:
            converged = True
            break
        grad = ma_ - 1.0 / a
        hess = mn + np.diag(1.0 / a**2)
        step = -np.linalg.solve(hess, grad)
        t, f0, slope = 1.0, f(a), grad @ step
        while True:
            new = a + t * step
            if np.all(new > 0) and f(new) <= f0 + 1e-4 * t * slope:
                break
            t *= 0.5
            if t < 1e-14:
                break
        if t < 1e-14:
            break
        a = new
    if not converged:
        if np.abs(a * (mn @ a) - 1.0).max() < 1e-8:
            converged = True
        elif ridge == 0.0:
            return nash_solver(gram, tol=tol, max_iter=max_iter, ridge=1e-6)
    alpha[active] = a / np.sqrt(scale)
    return alpha


def cagrad_solver(gram, c: float) -> Tuple[np.ndarray, np.ndarray]:
    """CAGrad (Liu et al. 2021): ``min_{w in simplex} g_w^T g_0 + sqrt(phi) |g_w|``, ``phi = c^2 |g_0|^2``,
    ``g_0`` = the average gradient, ``g_w = sum_i w_i g_i``; the update is
    ``d = g_0 + sqrt(phi) / |g_w| g_w``.

    Returns ``(coef, w)``: ``d = sum_i coef_i g_i`` and the inner solution ``w`` (SLSQP, convex problem).
    """
    from scipy.optimize import minimize

    m = _sym(gram)
    k = m.shape[0]
    scale = max(np.abs(np.diag(m)).max(), 1e-300)
    ms = m / scale
    b = ms.mean(axis=1)                              # M (1/K) -> g_i . g_0
    g0_norm = np.sqrt(max(ms.sum() / k**2, 0.0))     # |g_0|
    sqrt_phi = c * g0_norm

    def obj(w: np.ndarray) -> Tuple[float, np.ndarray]:
        mw = ms @ w
        nrm = np.sqrt(max(w @ mw, 1e-30))
        return float(w @ b + sqrt_phi * nrm), b + sqrt_phi * mw / nrm

    w0 = np.full(k, 1.0 / k)
    if k == 1 or sqrt_phi == 0.0:
        w = w0
    else:
        simplex = {'type': 'eq', 'fun': lambda w: w.sum() - 1.0, 'jac': lambda w: np.ones(k)}
        res = minimize(obj, w0, jac=True, method='SLSQP', bounds=[(0.0, 1.0)] * k, constraints=[simplex],
                       options={'ftol': 1e-14, 'maxiter': 500})
        w = np.clip(res.x, 0.0, None)
        w = w / w.sum()
    gw_norm = np.sqrt(max(w @ ms @ w, 0.0))
    lam = sqrt_phi / gw_norm if gw_norm > 1e-15 else 0.0
    coef = np.full(k, 1.0 / k) + lam * w
    return coef, w
