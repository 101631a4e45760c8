"""Automated mechanism design: posted-price and welfare closed forms, HiGHS agreement, and the
kernel's model (jit equals eager, vmap equals a loop, float32 and float64, the designer)."""

import itertools

import jax
import numpy as np
import pytest
from scipy.optimize import linprog as scipy_linprog
from socialign import mechanisms as M
from socialign.kernel import default_tol
from socialign.mechanisms._amd import _build
from socialign.solvers import Result


def auction(values, n):
    """n bidders, one item: outcomes (nobody, bidder 1, ..., bidder n)."""
    T = len(values)
    v = np.zeros((n, T, n + 1))
    for i in range(n):
        v[i, :, i + 1] = values
    return v


def test_single_buyer_posted_price_and_welfare():
    vals = np.array([1.0, 2.0, 3.0, 4.0])
    prior = np.array([0.1, 0.4, 0.2, 0.3])
    md = M.FiniteMechanismDesign(auction(vals, 1), prior[None])
    rev = M.design_mechanism(md)
    assert int(rev.result) == Result.CONVERGED
    # Myerson/Riley-Zeckhauser: a posted price is optimal for one buyer
    posted = max(pr * prior[vals >= pr].sum() for pr in vals)
    assert float(rev.revenue) == pytest.approx(posted, abs=1e-7)
    assert float(rev.incentive_violation) <= 1e-7 and float(rev.participation_violation) <= 1e-7
    wel = M.design_mechanism(md, "welfare")
    assert float(wel.welfare) == pytest.approx(float(prior @ vals), abs=1e-7)


@pytest.mark.slow  # ~21 s on 2 cores; the single-buyer oracle and the jit/vmap test stay default
def test_two_bidders_batch_vs_highs():
    rng = np.random.default_rng(0)
    vals = np.array([0.0, 1.0, 2.0])
    prior = np.array([[0.3, 0.4, 0.3], [0.5, 0.25, 0.25]])
    V = np.stack([auction(vals, 2), auction(np.sort(rng.uniform(0, 2, 3)), 2)])
    md = M.FiniteMechanismDesign(V, prior)
    out = M.design_mechanism(md)
    assert np.all(np.asarray(out.result) == Result.CONVERGED)
    assert float(np.max(out.incentive_violation)) <= 1e-7 and float(np.max(out.participation_violation)) <= 1e-7
    for b in range(2):
        c, G, E = _build(V[b], prior, np.zeros(3), "revenue")
        c, G, E = (np.asarray(a) for a in (c, G, E))
        ref = scipy_linprog(c, A_ub=G, b_ub=np.zeros(len(G)), A_eq=E, b_eq=np.ones(E.shape[0]),
                            bounds=[(0, None)] * 27 + [(None, None)] * 18, method="highs")
        assert float(out.revenue[b]) == pytest.approx(-ref.fun, abs=1e-7)
    # revenue never exceeds welfare of the first best (interim IR)
    first_best = sum(prior[0, a] * prior[1, b] * max(vals[a], vals[b])
                     for a, b in itertools.product(range(3), repeat=2))
    assert float(out.revenue[0]) <= first_best + 1e-9


def test_revenue_and_rents_of_the_posted_price():
    """One buyer, four types: revenues of the posted prices 1, 3, 5, 7 are 1, 1.8, 1.5, 0.7, so
    the optimum (a single buyer's optimal mechanism is a posted price) sells at 3, and the
    interim truthful utilities are the information rents max(v - 3, 0)."""
    vals, prior = np.array([1.0, 3.0, 5.0, 7.0]), np.array([0.4, 0.3, 0.2, 0.1])
    out = M.design_mechanism(M.FiniteMechanismDesign(auction(vals, 1), prior[None]))
    assert float(out.principal_value) == pytest.approx(1.8, abs=1e-7)
    assert float(out.revenue) == pytest.approx(float(out.principal_value))
    np.testing.assert_allclose(out.agent_values, [[0.0, 0.0, 2.0, 4.0]], atol=1e-7)
    np.testing.assert_allclose(out.outcome_probs[:, 1], [0.0, 1.0, 1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, pytest.param(np.float32, marks=pytest.mark.slow)])
def test_jit_vmap_dtypes(dtype):
    rng = np.random.default_rng(2)
    B = 3
    V = np.stack([auction(np.sort(rng.uniform(0.5, 3.0, 4)), 1) for _ in range(B)])
    prior = rng.dirichlet(np.ones(4), size=B)[:, None, :]  # [B, 1 agent, 4 types]

    def one(v, p):
        return M.design_mechanism(M.FiniteMechanismDesign(v, p))

    # a user's jit around vmap, in float64 and float32, against an eager float64 Python loop
    # (one buyer, four types: the shape of the posted-price test, whose program it reuses)
    loop = [one(V[b], prior[b]) for b in range(B)]
    # float32 (slow here: the conformance suite runs every designer in float32 by default)
    tol = 50 * default_tol(dtype)
    mapped = jax.jit(jax.vmap(one))(V.astype(dtype), prior.astype(dtype))
    assert mapped.revenue.dtype == dtype
    for b in range(B):
        vals, pr = V[b, 0, :, 1], prior[b, 0]
        posted = max(x * pr[vals >= x].sum() for x in vals)
        assert int(loop[b].result) == Result.CONVERGED
        assert float(loop[b].revenue) == pytest.approx(posted, abs=1e-7)
        assert int(mapped.result[b]) == Result.CONVERGED
        assert float(mapped.revenue[b]) == pytest.approx(float(loop[b].revenue), abs=tol)
        assert float(mapped.incentive_violation[b]) <= tol


def test_designer_welfare_and_revenue():
    vals = np.array([1.0, 2.0, 3.0, 4.0])
    prior = np.array([0.1, 0.4, 0.2, 0.3])
    md = M.FiniteMechanismDesign(auction(vals, 1), prior[None])
    rev = M.design(md, M.OptimalMechanism("revenue"))
    wel = M.design(md, M.OptimalMechanism(objective="welfare"))
    assert isinstance(rev.mechanism, M.DirectMechanism)
    assert float(rev.principal_value) == pytest.approx(float(rev.mechanism.revenue))
    assert float(wel.principal_value) == pytest.approx(float(prior @ vals), abs=1e-7)
    for d in (rev, wel):
        assert int(d.result) == Result.CONVERGED and d.agent_values.shape == (1, 4)
        assert float(d.incentive_violation) >= 0 and float(d.participation_violation) >= 0
    with pytest.raises(ValueError, match="objective"):
        M.OptimalMechanism("profit")


def test_bad_input():
    with pytest.raises(ValueError, match="prior"):
        M.FiniteMechanismDesign(auction([1.0, 2.0], 1), [[0.5, 0.6]])
    with pytest.raises(ValueError, match="valuations"):
        M.FiniteMechanismDesign([[1.0, 2.0]], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="objective"):
        M.design_mechanism(M.FiniteMechanismDesign(auction([1.0, 2.0], 1), [[0.5, 0.5]]), "fun")
    with pytest.raises(TypeError, match="FiniteMechanismDesign"):
        M.design_mechanism(auction([1.0, 2.0], 1))
