"""Known answers of the exact solvers (min-norm, Nash bargaining, CAGrad)."""
import itertools

import numpy as np
import pytest

from jdbench.weighting.solvers import cagrad_solver, min_norm_2, min_norm_solver, nash_solver


def _kkt_min_norm(m, a, tol=1e-9):
    """a is optimal for min a^T M a on the simplex iff (M a)_i >= a^T M a for all i (= on the support)."""
    grad, val = m @ a, a @ m @ a
    assert abs(a.sum() - 1) < 1e-12 and a.min() >= 0
    assert np.all(grad >= val - tol * max(1.0, abs(val)))
    assert np.allclose(grad[a > 1e-9], val, atol=tol * max(1.0, abs(val)))


def test_min_norm_two_vectors_closed_form():
    g1, g2 = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    m = np.stack([g1, g2]) @ np.stack([g1, g2]).T
    a = min_norm_solver(m)
    assert a == pytest.approx([0.8, 0.2])       # (g2.(g2 - g1)) / |g1 - g2|^2 = 4 / 5
    # one vector inside the other's half-space: the shorter one alone
    g1, g2 = np.array([1.0, 0.0]), np.array([3.0, 1.0])
    assert min_norm_2(g1 @ g1, g1 @ g2, g2 @ g2) == 1.0


@pytest.mark.parametrize('k,dim,seed', [(3, 5, 0), (4, 3, 1), (5, 8, 2), (4, 2, 3)])
def test_min_norm_kkt(k, dim, seed):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(k, dim))
    m = g @ g.T
    _kkt_min_norm(m, min_norm_solver(m))
    # and the projected-gradient path (used for many objectives) agrees on the value
    a_fw = min_norm_solver(m, max_enumerate=1)
    a = min_norm_solver(m)
    assert a_fw @ m @ a_fw == pytest.approx(a @ m @ a, rel=1e-6, abs=1e-10)


def test_min_norm_degenerate_identical_gradients():
    g = np.array([[1.0, 2.0], [1.0, 2.0], [-1.0, 0.5]])
    m = g @ g.T
    _kkt_min_norm(m, min_norm_solver(m))


@pytest.mark.parametrize('k,dim,seed', [(2, 4, 0), (3, 6, 1), (4, 10, 2), (3, 2, 3)])
def test_nash_fixed_point(k, dim, seed):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(k, dim)) * rng.uniform(0.1, 10, size=(k, 1))
    m = g @ g.T
    a = nash_solver(m).alpha
    assert np.all(a > 0)
    np.testing.assert_allclose(m @ a, 1.0 / a, rtol=1e-9)
    # the bargaining update G^T a always has norm sqrt(K); the weights scale as 1 / sqrt(scale)
    assert np.linalg.norm(g.T @ a) == pytest.approx(np.sqrt(k))
    np.testing.assert_allclose(nash_solver(4.0 * m).alpha, a / 2.0, rtol=1e-9)


def test_nash_orthogonal_closed_form_and_zero_gradient():
    m = np.diag([4.0, 0.25])
    np.testing.assert_allclose(nash_solver(m).alpha, [0.5, 2.0])       # a_i = 1 / |g_i|
    m = np.diag([4.0, 0.0])
    np.testing.assert_allclose(nash_solver(m).alpha, [0.5, 0.0])


def test_cagrad_solver():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(2, 5))
    m = g @ g.T
    coef, w = cagrad_solver(m, 0.0)
    np.testing.assert_allclose(coef, [0.5, 0.5])                  # c = 0: the average gradient
    c = 0.5
    coef, w = cagrad_solver(m, c)
    g0 = g.mean(0)
    sqrt_phi = c * np.linalg.norm(g0)

    def obj(x):
        gw = x * g[0] + (1 - x) * g[1]
        return gw @ g0 + sqrt_phi * np.linalg.norm(gw)

    grid = np.linspace(0, 1, 200001)
    best = grid[np.argmin([obj(x) for x in grid])]
    assert w[0] == pytest.approx(best, abs=1e-4)
    gw = w @ g
    np.testing.assert_allclose(coef @ g, g0 + sqrt_phi / np.linalg.norm(gw) * gw, rtol=1e-6, atol=1e-9)


def test_min_norm_against_brute_force_small():
    g = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    a = min_norm_solver(g @ g.T)
    np.testing.assert_allclose(a, [1 / 3, 1 / 3, 1 / 3])
    g = np.array([[2.0, 1.0], [-1.0, 1.5], [0.5, -2.0]])
    a = min_norm_solver(g @ g.T)
    grid = [np.array([x, y, 1 - x - y]) for x, y in itertools.product(np.linspace(0, 1, 201), repeat=2)
            if x + y <= 1]
    assert np.linalg.norm(a @ g) <= min(np.linalg.norm(x @ g) for x in grid) + 1e-12
