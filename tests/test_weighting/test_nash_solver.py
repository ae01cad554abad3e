"""Nash-MTL's solver against solutions of ``G^T G a = 1/a`` computed to 50 digits (mpmath)."""
import warnings

import mpmath
import numpy as np
import pytest
import torch

from jdbench.models.objectives import task_objectives
from jdbench.weighting import build_weighting
from jdbench.weighting.solvers import nash_solver

_E = np.array([1.0, -2.0, 0.5, 3.0])
_B = np.array([[2.0, 1.0, -1.0, 0.5], [1.0, -3.0, 2.0, 1.0], [-1.0, 0.5, 1.5, -2.0]])
_ANGLES = np.deg2rad([10.0, 40.0, 80.0, 120.0, 160.0])

# gradient matrices G (K x D); the solver gets M = G G^T. 'bound' is the accepted max_i |a_i (M a)_i - 1| of
# the returned float64 a, evaluated exactly: 1e-12 (the solver's tolerance) where a float64 a can reach it.
CASES = {
    'k2': (np.array([[3.0, 0.0], [1.0, 1.0]]), 1e-12),
    # the former solver's Armijo search stalled on these just above its tolerance, then silently re-solved
    # with a 1e-6 ridge: a was 1.1e-2 (K = 3) and 0.9e-2 (K = 4) off, relative
    'k3_stall': (np.array([[4.5, 15.0, -9.4], [-0.2, 3.8, -6.3], [-0.4, -1.2, 0.9]]), 1e-12),
    'k4_stall': (np.array([[6.5, -10.7, -8.4, -29.8, 4.1], [17.8, -17.0, -2.0, 9.0, -10.5],
                           [-13.1, 12.8, 16.3, 10.9, 1.1], [-0.4, 0.6, -1.4, 0.0, 0.3]]), 1e-12),
    # gradient norms from 1e-4 to 1e4 (M's eigenvalues span 1e17)
    'k5_scales': (np.array([[1, 2, 0, -1, 3], [0, 1, -2, 2, 1], [3, -1, 1, 0, 2], [-2, 0, 1, 1, -1],
                            [1, 1, 1, -3, 0]], dtype=np.float64) * np.logspace(-4, 4, 5)[:, None], 1e-12),
    # two gradients parallel to 1e-7
    'k3_parallel': (np.stack([_B[0], _B[0] + 1e-7 * _E, _B[2]]), 1e-12),
    # two gradients opposite to 1e-5: a positive combination almost vanishes, a ~ 1e5. Half an ulp of a
    # changes the residual by ~1e-6, so no float64 a reaches 1e-12: the solve ends on its Newton correction
    # (the former solver returned a 99% off)
    'k3_opposite': (np.stack([_B[0], -2 * _B[0] + 1e-5 * _E, _B[1]]), 1e-5),
    # five gradients in a plane (M has rank 2), all in one half-plane: the solution exists
    'k5_rank2': (np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], 1) * np.arange(1.0, 6.0)[:, None], 1e-12),
}


def _mp_nash(m: np.ndarray, digits: int = 50):
    """The positive root of ``M a = 1/a`` for the float64 ``M`` taken exactly, to ``digits`` digits: damped
    Newton at 70 digits (Armijo on ``a^T M a / 2 - sum log a``, or a decrease of the residual norm). The root
    is unique (strictly convex problem): one with a tiny residual and ``a > 0`` is it."""
    with mpmath.workdps(digits + 20):
        k = len(m)
        mat = mpmath.matrix([[mpmath.mpf(float(x)) for x in row] for row in m])

        def grad(a):
            return mat * a - mpmath.matrix([1 / x for x in a])

        def f(a):
            return (a.T * mat * a)[0] / 2 - mpmath.fsum(mpmath.log(x) for x in a)

        a = mpmath.matrix([1 / mpmath.sqrt(mat[i, i]) for i in range(k)])
        for _ in range(500):
            g = grad(a)
            if max(abs(a[i] * g[i]) for i in range(k)) < mpmath.mpf(10)**(-digits):
                return a
            step = -mpmath.lu_solve(mat + mpmath.diag([1 / x**2 for x in a]), g)
            t, f0, slope, norm0 = mpmath.mpf(1), f(a), (g.T * step)[0], mpmath.norm(g)
            while True:
                new = a + t * step
                if min(new) > 0 and (f(new) <= f0 + t * slope / 10**4
                                     or mpmath.norm(grad(new)) <= (1 - t / 10**4) * norm0):
                    break
                t /= 2
            a = new
    raise AssertionError('the 50-digit reference did not converge')


def _exact_residual(m: np.ndarray, a: np.ndarray) -> float:
    """``max_i |a_i (M a)_i - 1|`` of the float64 ``a``, evaluated exactly (70 digits)."""
    with mpmath.workdps(70):
        mat = mpmath.matrix([[mpmath.mpf(float(x)) for x in row] for row in m])
        av = mpmath.matrix([mpmath.mpf(float(x)) for x in a])
        ma = mat * av
        return float(max(abs(av[i] * ma[i] - 1) for i in range(len(a))))


@pytest.mark.parametrize('name', list(CASES))
def test_nash_solver_matches_50_digit_solution(name):
    g, bound = CASES[name]
    m = g @ g.T
    ref = _mp_nash(m)
    with warnings.catch_warnings():
        warnings.simplefilter('error')           # no fallback warning
        sol = nash_solver(m)
    assert sol.ridge == 0.0
    a = sol.alpha
    rel = max(abs((mpmath.mpf(float(x)) - r) / r) for x, r in zip(a, ref))
    assert rel < 1e-12, f'{name}: relative error {float(rel):.2e}'
    residual = _exact_residual(m, a)
    assert residual < bound, f'{name}: residual {residual:.2e}'
    assert sol.residual == pytest.approx(residual, rel=1e-3, abs=1e-15)   # the reported one is exact too


def test_nash_solver_closed_form_equal_norms():
    # |g1| = |g2| = n, cos = c: by symmetry a1 = a2 = a, a^2 n^2 (1 + c) = 1
    n, c = 3.0, -0.6
    m = n**2 * np.array([[1.0, c], [c, 1.0]])
    np.testing.assert_allclose(nash_solver(m).alpha, 1 / (n * np.sqrt(1 + c)), rtol=1e-13)


def test_nash_solver_scale_invariance_is_exact():
    g = CASES['k4_stall'][0]
    m = g @ g.T
    a = nash_solver(m).alpha
    np.testing.assert_array_equal(nash_solver(16.0 * m).alpha, a / 4.0)    # the scaling is a power of 4
    np.testing.assert_allclose(nash_solver(3.0 * m).alpha, a / np.sqrt(3.0), rtol=1e-12)


def test_nash_solver_without_solution_warns_and_counts():
    g = np.array([[1.0, 2.0, -1.0], [-2.0, -4.0, 2.0], [0.5, 0.0, 1.0]])   # 2 g1 + g2 = 0: no solution
    with pytest.warns(RuntimeWarning, match='no solution of G.T G a = 1/a'):
        sol = nash_solver(g @ g.T)
    assert sol.ridge == 1e-6 and np.all(sol.alpha > 0) and sol.residual > 1e-3

    nash = build_weighting(dict(type='NashMTL'), objectives=task_objectives(['a', 'b', 'c']))
    good = CASES['k3_stall'][0]
    nash.coefficients(torch.from_numpy(good @ good.T), torch.ones(3, dtype=torch.float64), 0)
    assert int(nash.solver_fallbacks) == 0
    with pytest.warns(RuntimeWarning):
        nash.coefficients(torch.from_numpy(g @ g.T), torch.ones(3, dtype=torch.float64), 1)
    assert int(nash.solver_fallbacks) == 1
    assert 'solver_fallbacks' not in nash.state_dict()         # earlier checkpoints (without it) still load
    assert int(nash.logged_state()['solver_fallbacks']) == 1   # logged by the wrapper as w.solver_fallbacks


def test_the_wrapper_logs_the_fallback_count():
    from jdbench.engine.optimizers import WeightedOptimWrapper, weighted_train_step
    from .toy import ToyJoint, toy_batch
    model = ToyJoint(weighting=dict(type='NashMTL'))
    wrapper = WeightedOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = weighted_train_step(model, toy_batch(), wrapper)
    assert int(log_vars['w.solver_fallbacks']) == 0 and 'w.seg' in log_vars
