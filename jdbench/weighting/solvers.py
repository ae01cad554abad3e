"""Small exact solvers on Gram matrices (K x K, K = number of objectives), in float64 numpy.

- :func:`min_norm_solver`: the min-norm point of the convex hull of the gradients (MGDA).
- :func:`nash_solver`: the Nash bargaining weights ``G^T G a = 1 / a, a > 0`` (Nash-MTL), to 1e-12.
- :func:`cagrad_solver`: CAGrad's inner problem on the simplex.
"""
import warnings
from itertools import combinations
from typing import NamedTuple, Tuple

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


class NashSolution(NamedTuple):
    """Result of :func:`nash_solver`.

    Attributes:
        alpha (np.ndarray): (K,) the bargaining weights (0 for an objective whose gradient is zero).
        residual (float): ``max_i |a_i (M a)_i - 1|`` of the returned weights (on the problem without the
            ridge).
        ridge (float): 0, or the ridge added to ``M / s`` because the problem has no solution or the solve
            did not converge (a fallback; a warning was issued).
    """
    alpha: np.ndarray
    residual: float
    ridge: float


def _two_prod(x: np.ndarray, y) -> Tuple[np.ndarray, np.ndarray]:
    """``x * y = p + e`` exactly, elementwise (Dekker's product with Veltkamp's splitting)."""
    p = x * y
    c = 134217729.0 * x                           # 2^27 + 1
    xh = c - (c - x)
    d = 134217729.0 * y
    yh = d - (d - y)
    e = (x - xh) * (y - yh) - (((p - xh * yh) - (x - xh) * yh) - xh * (y - yh))
    return p, e


def _nash_residual(mn: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``a * (M a) - 1`` as if computed in twice the working precision: ``M a`` by compensated dot
    products (Ogita, Rump & Oishi's Dot2), then the error-free product with ``a``. The plain float64 residual
    has a rounding error of about ``eps max_i a_i (|M| a)_i``, large when the gradients nearly cancel."""
    hi, lo = _two_prod(mn[:, 0], a[0])
    for j in range(1, len(a)):
        p, e = _two_prod(mn[:, j], a[j])
        s = hi + p                                   # two-sum: hi + p = s + (its error)
        z = s - hi
        lo = lo + ((hi - (s - z)) + (p - z)) + e
        hi = s
    p, e = _two_prod(a, hi)                          # a (hi + lo) - 1, with a hi = p + e exactly
    return (p - 1.0) + (e + a * lo)


def _nash_newton(mn: np.ndarray, tol: float, max_iter: int) -> Tuple[np.ndarray, float, bool]:
    """Damped Newton on ``f(a) = a^T M a / 2 - sum_i log a_i`` (``M`` = ``mn``, normalised); returns
    ``(a, max_i |a_i (M a)_i - 1|, converged)``."""
    eps = np.finfo(np.float64).eps
    eye = np.eye(mn.shape[0])

    def f(a: np.ndarray) -> float:
        return 0.5 * a @ mn @ a - np.log(a).sum()

    a = 1.0 / np.sqrt(np.diag(mn))
    res = _nash_residual(mn, a)
    for _ in range(max_iter):
        if np.abs(res).max() < tol:
            return a, float(np.abs(res).max()), True
        grad = res / a                               # M a - 1/a
        try:   # Newton step (M + diag(1/a^2)) step = -grad, solved with the Jacobi scaling D = diag(a)
            step = a * np.linalg.solve(a[:, None] * mn * a[None, :] + eye, -res)
        except np.linalg.LinAlgError:
            break
        if np.abs(step / a).max() < tol:
            # the Newton correction (near the solution, the relative error of a) is below tol: take it and
            # stop. Where M is so ill-conditioned that no float64 a has a residual below tol (half an ulp of
            # a changes the residual by about eps max_i a_i (|M| a)_i), this is how the solve ends.
            a = a + step
            return a, float(np.abs(_nash_residual(mn, a)).max()), True
        t, f0, slope = 1.0, f(a), grad @ step
        # Armijo backtracking on f, keeping a > 0. Near the optimum the decrease of f (about -slope / 2)
        # falls below the rounding error of f, which then cannot rank the points: a step that decreases the
        # norm of grad f (for which the Newton step is a descent direction too) is accepted as well.
        near = -slope <= 1e3 * eps * (a @ np.abs(mn) @ a + np.abs(np.log(a)).sum())
        norm0 = np.linalg.norm(grad)
        while t >= 1e-14:
            new = a + t * step
            if np.all(new > 0):
                new_res = _nash_residual(mn, new)
                if (f(new) <= f0 + 1e-4 * t * slope
                        or near and np.linalg.norm(new_res / new) <= (1 - 1e-4 * t) * norm0):
                    break
            t *= 0.5
        else:
            break                                    # no progress
        a, res = new, new_res
    return a, float(np.abs(res).max()), bool(np.abs(res).max() < tol)


def nash_solver(gram, tol: float = 1e-12, max_iter: int = 100) -> NashSolution:
    """The positive solution of ``M a = 1 / a`` (elementwise), ``M = G^T G``: Nash-MTL's bargaining weights.

    ``M a = 1/a`` is the stationarity condition of the strictly convex ``f(a) = a^T M a / 2 - sum_i log a_i``
    on ``a > 0``, minimised by damped Newton steps (Hessian ``M + diag(1/a^2)``):

    - the line search keeps ``a > 0`` and backtracks on ``f`` (Armijo); near the optimum, where the decrease
      of ``f`` falls below its rounding error, a step that decreases the norm of ``M a - 1/a`` is accepted
      too (without this, the search stalls just above the tolerance);
    - the residual ``a_i (M a)_i - 1`` is computed with compensated dot products (twice the working
      precision), so it stays accurate when the gradients nearly cancel;
    - the solve ends when ``max_i |a_i (M a)_i - 1| < tol``, or when the Newton correction, which near the
      solution is the relative error of ``a``, is below ``tol`` (it is then applied). The second rule ends the
      solve for an ill-conditioned ``M``, where no float64 ``a`` has a residual below ``tol``.

    The problem is solved on ``M / s`` (``s``: the power of 4 nearest the mean diagonal, so that the scaling
    is exact) and rescaled, ``a = a_s / sqrt(s)``: the solution does not depend on the gradients' scale. An
    objective whose gradient is zero gets ``a = 0`` (no bargaining solution exists for it).

    If the gradients admit a nonnegative combination equal to zero, ``f`` is unbounded below and there is no
    solution. Then (and whenever the solve does not converge) a ridge ``1e-6 I`` is added to ``M / s``, a
    ``RuntimeWarning`` is issued and the result says so (``ridge > 0``): never silently.

    Args:
        gram (array-like): (K, K) Gram matrix ``G^T G``.
        tol (float): tolerance on the residual (or on the relative Newton correction).
        max_iter (int): maximum number of Newton steps.

    Returns:
        NashSolution: ``(alpha, residual, ridge)``.
    """
    m = _sym(gram)
    k = m.shape[0]
    diag = np.diag(m)
    active = diag > 1e-20 * max(diag.max(), 1e-300)
    alpha = np.zeros(k)
    if not active.any():
        return NashSolution(alpha, 0.0, 0.0)
    ma = m[np.ix_(active, active)]
    # s: the power of 4 nearest the mean diagonal, so that M / s and sqrt(s) are exact (rounding M / s would
    # perturb the solution of an ill-conditioned M by up to eps max_i a_i (|M| a)_i)
    scale = 4.0**round(np.log(np.mean(np.diag(ma))) / np.log(4.0))
    mn = ma / scale
    ridge = 0.0
    with np.errstate(all='ignore'):                 # a diverging iterate is caught by the residual
        a, residual, converged = _nash_newton(mn, tol, max_iter)
        if not converged:
            ridge = 1e-6
            warnings.warn(f'nash_solver: no solution of G^T G a = 1/a found (residual {residual:.2e}): the '
                          'gradients may have a nonnegative combination equal to zero. Using the solution of '
                          f'the problem with a {ridge:g} ridge instead', RuntimeWarning)
            a, _, _ = _nash_newton(mn + ridge * np.eye(len(mn)), tol, max_iter)
            residual = float(np.abs(_nash_residual(mn, a)).max())
    alpha[active] = a / np.sqrt(scale)
    return NashSolution(alpha, residual, ridge)


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
