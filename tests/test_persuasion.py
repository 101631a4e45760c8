"""Bayesian persuasion: Kamenica-Gentzkow prosecutor oracle, HiGHS agreement, obedience."""

import numpy as np
import pytest
from scipy.optimize import linprog as scipy_linprog
from socialign import mechanisms as M
from socialign.solvers import Result

PROSECUTOR = ([0.3, 0.7], [[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])


def highs_persuasion(mu, v, u):
    S, A = v.shape
    c = -(mu[:, None] * v).ravel()
    rows = []
    for a in range(A):
        for b in range(A):
            if a != b:
                r = np.zeros((S, A))
                r[:, a] = -mu * (u[:, a] - u[:, b])
                rows.append(r.ravel())
    E = np.kron(np.eye(S), np.ones((1, A)))
    res = scipy_linprog(c, A_ub=np.array(rows), b_ub=np.zeros(len(rows)), A_eq=E,
                        b_eq=np.ones(S), bounds=(0, None), method="highs")
    return -res.fun


def test_prosecutor_oracle_and_random_batch():
    rng = np.random.default_rng(0)
    B, S, A = 10, 2, 2
    mu = rng.dirichlet(np.ones(S), size=B)
    v = rng.normal(size=(B, S, A))
    u = rng.normal(size=(B, S, A))
    mu[0], v[0], u[0] = (np.array(x) for x in PROSECUTOR)  # batch member 0 is the oracle
    sch = M.optimal_signal(M.BayesianPersuasion(mu, v, u))
    assert np.all(np.asarray(sch.result) == Result.CONVERGED)
    # ORACLES.md: guilty -> "guilty" always, innocent -> "guilty" w.p. 3/7; conviction 0.6
    np.testing.assert_allclose(sch.signal[0], [[1.0, 0.0], [3 / 7, 4 / 7]], atol=1e-7)
    assert float(sch.sender_value[0]) == pytest.approx(0.6, abs=1e-8)
    assert float(sch.full_disclosure_value[0]) == pytest.approx(0.3, abs=1e-12)
    assert float(np.max(sch.obedience_violation)) <= 1e-7
    for i in range(B):
        assert float(sch.sender_value[i]) == pytest.approx(highs_persuasion(mu[i], v[i], u[i]),
                                                           abs=1e-7)
    # commitment to information never hurts the sender
    assert np.all(np.asarray(sch.sender_value) >= np.asarray(sch.full_disclosure_value) - 1e-7)
    assert np.all(np.asarray(sch.sender_value) >= np.asarray(sch.no_information_value) - 1e-7)


def test_bad_input():
    with pytest.raises(ValueError, match="prior"):
        M.BayesianPersuasion([0.3, 0.6], *PROSECUTOR[1:])
    with pytest.raises(ValueError, match="prior"):
        M.BayesianPersuasion([0.2, 0.3, 0.5], *PROSECUTOR[1:])
    with pytest.raises(ValueError, match="same shape"):
        M.BayesianPersuasion(PROSECUTOR[0], PROSECUTOR[1], [[1.0, 0.0, 2.0], [0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="receiver_utility"):
        M.BayesianPersuasion(PROSECUTOR[0], PROSECUTOR[1], [[np.inf, 0.0], [0.0, 1.0]])
    with pytest.raises(TypeError, match="problem"):
        M.optimal_signal(PROSECUTOR)
