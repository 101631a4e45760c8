"""Proper scoring rules: ORACLES quadratic-score values and strict properness (hypothesis)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from socialign import mechanisms as M


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


def test_bad_input():
    with pytest.raises(ValueError, match="report"):
        M.quadratic_score([0.5, 0.6])
    with pytest.raises(ValueError, match="outcomes"):
        M.expected_score([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="rule"):
        M.expected_score([0.5, 0.5], [0.5, 0.5], "cubic")
