"""Automated mechanism design: posted-price and welfare closed forms, HiGHS agreement."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog as scipy_linprog
from socialign import mechanisms as M
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
    assert float(rev.ic_violation) <= 1e-7 and float(rev.ir_violation) <= 1e-7
    wel = M.design_mechanism(md, "welfare")
    assert float(wel.welfare) == pytest.approx(float(prior @ vals), abs=1e-7)


def test_two_bidders_batch_vs_highs():
    rng = np.random.default_rng(0)
    vals = np.array([0.0, 1.0, 2.0])
    prior = np.array([[0.3, 0.4, 0.3], [0.5, 0.25, 0.25]])
    V = np.stack([auction(vals, 2), auction(np.sort(rng.uniform(0, 2, 3)), 2)])
    md = M.FiniteMechanismDesign(V, prior)
    out = M.design_mechanism(md)
    assert np.all(np.asarray(out.result) == Result.CONVERGED)
    assert float(np.max(out.ic_violation)) <= 1e-7 and float(np.max(out.ir_violation)) <= 1e-7
    for b in range(2):
        c, G, E = _build(V[b], prior, np.zeros(3), "revenue")
        ref = scipy_linprog(c, A_ub=G, b_ub=np.zeros(len(G)), A_eq=E, b_eq=np.ones(E.shape[0]),
                            bounds=[(0, None)] * 27 + [(None, None)] * 18, method="highs")
        assert float(out.revenue[b]) == pytest.approx(-ref.fun, abs=1e-7)
    # revenue never exceeds welfare of the first best (interim IR)
    first_best = sum(prior[0, a] * prior[1, b] * max(vals[a], vals[b])
                     for a, b in itertools.product(range(3), repeat=2))
    assert float(out.revenue[0]) <= first_best + 1e-9


def test_bad_input():
    with pytest.raises(ValueError, match="priors"):
        M.FiniteMechanismDesign(auction([1.0, 2.0], 1), [[0.5, 0.6]])
    with pytest.raises(ValueError, match="valuations"):
        M.FiniteMechanismDesign([[1.0, 2.0]], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="objective"):
        M.design_mechanism(M.FiniteMechanismDesign(auction([1.0, 2.0], 1), [[0.5, 0.5]]), "fun")
