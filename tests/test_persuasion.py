"""Bayesian persuasion: Kamenica-Gentzkow prosecutor oracle, HiGHS agreement, obedience, and the
kernel's model (jit equals eager, vmap equals a loop, float32 and float64, the designer)."""

import jax
import numpy as np
import pytest
from scipy.optimize import linprog as scipy_linprog
from socialign import mechanisms as M
from socialign.kernel import NotConvergedError, default_tol
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
    assert float(sch.principal_value[0]) == pytest.approx(0.6, abs=1e-8)
    assert float(sch.full_disclosure_value[0]) == pytest.approx(0.3, abs=1e-12)
    assert float(np.max(sch.incentive_violation)) <= 1e-7
    for i in range(B):
        assert float(sch.principal_value[i]) == pytest.approx(highs_persuasion(mu[i], v[i], u[i]),
                                                           abs=1e-7)
    # commitment to information never hurts the sender
    assert np.all(np.asarray(sch.principal_value) >= np.asarray(sch.full_disclosure_value) - 1e-7)
    assert np.all(np.asarray(sch.principal_value) >= np.asarray(sch.no_information_value) - 1e-7)


@pytest.mark.parametrize("dtype", [np.float64, pytest.param(np.float32, marks=pytest.mark.slow)])
def test_jit_vmap_dtypes(dtype):
    rng = np.random.default_rng(1)
    B, S, A = 3, 2, 2  # the oracle's shape: shares its compiled LP
    mu = rng.dirichlet(np.ones(S), size=B)
    v = rng.normal(size=(B, S, A))
    u = rng.normal(size=(B, S, A))
    mu[0], v[0], u[0] = (np.array(x) for x in PROSECUTOR)

    def one(mu, v, u):
        return M.optimal_signal(M.BayesianPersuasion(mu, v, u))

    # a user's jit around vmap, in float64 and float32, against an eager float64 Python loop
    loop = [one(mu[b], v[b], u[b]) for b in range(B)]
    assert int(loop[0].result) == Result.CONVERGED
    assert float(loop[0].principal_value) == pytest.approx(0.6, abs=1e-8)
    # float32 (slow here: the conformance suite runs every designer in float32 by default)
    tol = 50 * default_tol(dtype)
    mapped = jax.jit(jax.vmap(one))(mu.astype(dtype), v.astype(dtype), u.astype(dtype))
    assert mapped.principal_value.dtype == dtype
    np.testing.assert_allclose(mapped.signal[0], loop[0].signal, atol=tol)
    for b in range(B):
        assert int(mapped.result[b]) == Result.CONVERGED
        assert float(mapped.principal_value[b]) == pytest.approx(
            float(loop[b].principal_value), abs=tol)
        assert float(mapped.principal_value[b]) == pytest.approx(
            highs_persuasion(mu[b], v[b], u[b]), abs=tol)
        assert float(mapped.incentive_violation[b]) <= tol


def test_designer_and_throw():
    bp = M.BayesianPersuasion(*PROSECUTOR)
    d = M.design(bp, M.OptimalSignal())
    assert isinstance(d.mechanism, M.SignalingScheme)
    assert float(d.principal_value) == pytest.approx(0.6, abs=1e-8)
    assert float(d.agent_values) == pytest.approx(float(d.mechanism.agent_values))
    assert float(d.incentive_violation) >= 0 and float(d.participation_violation) == 0
    assert int(d.result) == Result.CONVERGED and int(d.stats["num_steps"]) > 0
    with pytest.raises(NotConvergedError, match="did not converge"):
        M.design(bp, M.OptimalSignal(), max_steps=1)
    out = M.design(bp, M.OptimalSignal(), max_steps=1, throw=False)
    assert int(out.result) == Result.MAX_STEPS_REACHED


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
    with pytest.raises(ValueError, match="max_steps"):
        M.optimal_signal(M.BayesianPersuasion(*PROSECUTOR), max_steps=0)
