"""Proper scoring rules: ORACLES quadratic-score values, strict properness (hypothesis), and the
kernel's model (jit equals eager, vmap equals a loop, float32 and float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from socialign import mechanisms as M
from socialign.kernel import default_tol


def test_quadratic_score_oracle():
    q = [0.7, 0.3]
    assert float(M.expected_score(q, q)) == pytest.approx(0.58)
    assert float(M.expected_score([1.0, 0.0], q)) == pytest.approx(0.40)
    assert float(M.expected_score([0.5, 0.5], q)) == pytest.approx(0.50)
    np.testing.assert_allclose(M.quadratic_score([[0.7, 0.3], [0.5, 0.5]]),
                               [[0.82, 0.02], [0.5, 0.5]], atol=1e-12)


def probs(n):
    return st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n).map(
        lambda x: np.asarray(x) / np.sum(x))


@given(q=probs(3), p=probs(3))
def test_strict_properness(q, p):
    for rule in ("quadratic", "log", "spherical"):
        gap = float(M.properness_gap(p, q, rule))
        assert gap <= 1e-12
        if np.max(np.abs(p - q)) > 1e-3:
            assert gap < 0


def test_truthful_report_is_a_stationary_point_on_the_simplex():
    q = jnp.array([0.2, 0.5, 0.3])
    for rule in ("quadratic", "log", "spherical"):
        g = jax.grad(lambda p, rule=rule: M.expected_score(p, q, rule))(q)
        np.testing.assert_allclose(g - g.mean(), 0.0, atol=1e-12)  # tangent gradient vanishes
    # on the boundary (an outcome believed impossible) the log rule's gradient is finite: the
    # masked 0 * log(0) term gave 0 * inf = NaN (a break-tester's find)
    edge = jnp.array([1.0, 0.0])
    g = jax.grad(lambda p: M.expected_score(p, edge, "log"))(edge)
    np.testing.assert_array_equal(g, [1.0, 0.0])


RULES = ("quadratic", "log", "spherical")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jit_vmap_dtypes(dtype):
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=4).astype(dtype)
    Q = rng.dirichlet(np.ones(3), size=4).astype(dtype)
    tol = default_tol(dtype)

    def all_scores(p, q):
        return {r: (M.expected_score(p, q, r), M.properness_gap(p, q, r)) for r in RULES}

    jitted = jax.jit(all_scores)
    mapped = jax.vmap(all_scores)(P, Q)
    batched = all_scores(P, Q)  # leading axes are batch axes
    for b in range(4):
        eager = all_scores(P[b], Q[b])
        jit_b = jitted(P[b], Q[b])
        for r in RULES:
            for k in range(2):
                assert eager[r][k].dtype == dtype and mapped[r][k].dtype == dtype
                np.testing.assert_allclose(jit_b[r][k], eager[r][k], atol=tol)
                np.testing.assert_allclose(mapped[r][k][b], eager[r][k], atol=tol)
                np.testing.assert_allclose(batched[r][k][b], eager[r][k], atol=tol)
            assert float(eager[r][1]) <= tol  # proper in either precision
    # per-member realised outcomes: jit and vmap over an int array of outcomes
    o = np.array([0, 2, 1, 0])
    for fn in (M.quadratic_score, M.log_score, M.spherical_score):
        ref = np.array([float(fn(P[b], int(o[b]))) for b in range(4)])
        np.testing.assert_allclose(fn(P, o), ref, atol=tol)
        np.testing.assert_allclose(jax.jit(fn)(P, o), ref, atol=tol)
        np.testing.assert_allclose(jax.vmap(fn)(P, o), ref, atol=tol)


def test_bad_input():
    with pytest.raises(ValueError, match="report"):
        M.quadratic_score([0.5, 0.6])
    with pytest.raises(ValueError, match="outcomes"):
        M.expected_score([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="rule"):
        M.expected_score([0.5, 0.5], [0.5, 0.5], "cubic")
    # a callable rule gets a checked report too (was: -4.5 for the report [2, -1])
    with pytest.raises(ValueError, match="report"):
        M.properness_gap([2.0, -1.0], [0.5, 0.5],
                         rule=lambda p: 2 * p - (p**2).sum(-1, keepdims=True))
    with pytest.raises(ValueError, match="outcome"):
        M.log_score([0.5, 0.5], 2)
    with pytest.raises(TypeError, match="outcome"):
        M.spherical_score([0.5, 0.5], 0.5)
