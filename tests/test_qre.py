"""Tests for solvers/_qre.py: the logit quantal response function and the logit QRE solver.

References side by side: closed-form softmax, scipy's root finder on the logit equations of
zero-sum games (whose QRE is unique), plain fixed-point iteration where it is a contraction
(high temperature), and the ORACLES.md games for the homotopy's Nash limit.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st
from socialign import solvers
from socialign.solvers import Result
from socialign.solvers._qre import qre_residual

RPS = solvers.NormalFormGame.zero_sum([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
BIASED = np.array([[0.0, -1.0, 2.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
BIASED_RPS = solvers.NormalFormGame.zero_sum(BIASED)
G23 = solvers.NormalFormGame.zero_sum([[2.0, 1.0, 5.0], [-3.0, -4.0, -2.0]])

# One fixed-temperature solver for every test: the logit QRE of the game c * G at temperature
# T is the QRE of G at T / c, so other temperatures are reached by scaling payoffs (and share
# the compiled loop).
QRE_MID = solvers.LogitQRE(temperature=0.5)
HOMOTOPY = solvers.LogitQRE(homotopy=True)


# ------------------------------------------------------------------------------------------
# quantal_response
# ------------------------------------------------------------------------------------------
def test_quantal_response_closed_form():
    u = np.array([1.0, 0.0, -2.0])
    for t in (0.1, 1.0, 7.0):
        e = np.exp(u / t)
        np.testing.assert_allclose(np.asarray(solvers.quantal_response(u, t)), e / e.sum(),
                                   rtol=1e-12)
    # limits: T -> 0 is the best response, T -> inf uniform
    np.testing.assert_allclose(np.asarray(solvers.quantal_response(u, 1e-3)), [1, 0, 0],
                               atol=1e-12)
    np.testing.assert_allclose(np.asarray(solvers.quantal_response(u, 1e6)), np.full(3, 1 / 3),
                               atol=1e-5)


def test_quantal_response_batched_temperature_vmap_and_grad():
    u = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)))
    t = jnp.asarray([0.5, 1.0, 2.0, 4.0])
    batched = solvers.quantal_response(u, t)
    looped = jnp.stack([solvers.quantal_response(u[k], t[k]) for k in range(4)])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(looped), rtol=1e-12)
    vm = jax.vmap(solvers.quantal_response)(u, t)
    np.testing.assert_allclose(np.asarray(vm), np.asarray(looped), rtol=1e-12)
    # gradient of sigma_0 w.r.t. u: (1/T) sigma_0 (e_0 - sigma)
    s = solvers.quantal_response(u[0], 0.5)
    g = jax.grad(lambda x: solvers.quantal_response(x, 0.5)[0])(u[0])
    np.testing.assert_allclose(np.asarray(g), np.asarray(s[0] * (jnp.eye(3)[0] - s) / 0.5),
                               rtol=1e-10)
    # and w.r.t. the temperature: d sigma_0 / dT = -(1/T^2) sigma_0 (u_0 - sigma . u)
    gt = jax.grad(lambda T: solvers.quantal_response(u[0], T)[0])(0.5)
    np.testing.assert_allclose(float(gt), float(-s[0] * (u[0, 0] - s @ u[0]) / 0.25),
                               rtol=1e-10)


@pytest.mark.parametrize("args,exc,match", [
    (([1.0, 2.0], 0.0), ValueError, "temperature"),
    (([1.0, 2.0], -1.0), ValueError, "temperature"),
    (([1.0, 2.0], float("nan")), ValueError, "temperature"),
    (([1.0, float("nan")], 1.0), ValueError, "payoffs_to_player"),
    (([1.0, float("inf")], 1.0), ValueError, "payoffs_to_player"),
    (([], 1.0), ValueError, "payoffs_to_player"),
    ((3.0, 1.0), ValueError, "payoffs_to_player"),
    ((np.ones((2, 3)), np.ones(3)), ValueError, "temperature"),
    ((["a", "b"], 1.0), TypeError, "payoffs_to_player"),
])
def test_quantal_response_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        solvers.quantal_response(*args)


# ------------------------------------------------------------------------------------------
# LogitQRE at a fixed temperature
# ------------------------------------------------------------------------------------------
def _scipy_qre(A, T):
    """The (unique) logit QRE of the zero-sum game A, by scipy's root finder on the logits."""
    m, n = A.shape

    def softmax(z):
        e = np.exp(z - z.max())
        return e / e.sum()

    def F(z):
        # z_i - u_i / T is the same for every action (softmax gauge); pin z_0 = 0
        x, y = softmax(z[:m]), softmax(z[m:])
        rx = z[:m] - (A @ y) / T
        ry = z[m:] + (A.T @ x) / T
        return np.r_[z[0], rx[1:] - rx[0], z[m], ry[1:] - ry[0]]

    sol = scipy.optimize.root(F, np.zeros(m + n), method="hybr", tol=1e-13)
    assert np.max(np.abs(F(sol.x))) <= 1e-12
    return softmax(sol.x[:m]), softmax(sol.x[m:])


@pytest.mark.parametrize("temperature", [0.5, 0.05])
def test_fixed_temperature_matches_scipy_on_zero_sum(temperature):
    rng = np.random.default_rng(5)
    scale = QRE_MID.temperature / temperature
    for A in (BIASED, rng.normal(size=(3, 3))):
        eq = solvers.solve(solvers.NormalFormGame.zero_sum(scale * A), QRE_MID, tol=1e-10)
        assert int(eq.result) == Result.CONVERGED
        assert float(eq.certificate) <= 1e-10
        x, y = _scipy_qre(A, temperature)
        np.testing.assert_allclose(np.asarray(eq.strategies[0]), x, atol=1e-9)
        np.testing.assert_allclose(np.asarray(eq.strategies[1]), y, atol=1e-9)


def test_rps_qre_is_uniform_and_high_temperature_is_near_uniform():
    eq = solvers.solve(RPS, QRE_MID, tol=1e-12)
    np.testing.assert_allclose(np.asarray(eq.strategies[0]), np.full(3, 1 / 3), atol=1e-12)
    # high temperature: the QRE at T = 1000 of A is the QRE at T = 0.5 of A / 2000
    hot = solvers.NormalFormGame.zero_sum(BIASED / 2000.0)
    eq = solvers.solve(hot, QRE_MID, tol=1e-10)
    for s in eq.strategies:
        # |sigma - uniform| <= range(v) / T at most
        np.testing.assert_allclose(np.asarray(s), np.full(3, 1 / 3), atol=3e-3)
    # at high T plain fixed-point iteration is a contraction: same point
    x = y = np.full(3, 1 / 3)
    for _ in range(60):
        x, y = (np.asarray(solvers.quantal_response(BIASED @ y, 1e3)),
                np.asarray(solvers.quantal_response(-BIASED.T @ x, 1e3)))
    np.testing.assert_allclose(np.asarray(eq.strategies[0]), x, atol=1e-12)


def test_nash_conv_shrinks_with_temperature():
    # the QRE approaches the unique Nash equilibrium as T -> 0
    mid = solvers.solve(BIASED_RPS, QRE_MID, tol=1e-10)
    low = solvers.solve(solvers.NormalFormGame.zero_sum(10 * BIASED), QRE_MID, tol=1e-10)
    low_conv = float(low.nash_conv) / 10  # NashConv of the T = 0.05 QRE in BIASED's units
    assert low_conv < float(mid.nash_conv)
    assert low_conv <= 0.2 * float(mid.nash_conv)


@settings(max_examples=5)
@given(seed=st.integers(0, 2**31 - 1))
def test_random_games_converge_batch_equals_loop(seed):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(2, 2, 3, 3))
    games = [solvers.NormalFormGame(p, 2) for p in P]
    batch = solvers.solve(solvers.stack(games), QRE_MID, tol=1e-9, throw=False)
    assert np.all(np.asarray(batch.result) == Result.CONVERGED)
    for k, g in enumerate(games):
        one = solvers.solve(g, QRE_MID, tol=1e-9, throw=False)
        assert int(one.result) == Result.CONVERGED
        assert float(one.certificate) <= 1e-9
        # the certificate really is the fixed-point residual
        assert float(qre_residual(g, one.strategies, 0.5)) <= 1e-9
        for a, b in zip(batch.strategies, one.strategies):
            np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b), atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 2, 3, 2), pytest.param((4, 2, 2, 2, 2),
                                                                marks=pytest.mark.slow)],
                         ids=["3p", "4p"])
def test_random_multiplayer_games_converge(shape):
    rng = np.random.default_rng(sum(shape))
    P = 10 * rng.normal(size=(6, *shape))  # temperature 0.05 relative to N(0, 1) payoffs
    games = solvers.NormalFormGame(P, shape[0])
    eq = solvers.solve(games, QRE_MID, tol=1e-9, throw=False)
    assert np.all(np.asarray(eq.result) == Result.CONVERGED)
    for k in range(P.shape[0]):
        s = tuple(x[k] for x in eq.strategies)
        assert float(qre_residual(games[k], s, QRE_MID.temperature)) <= 1e-9


# ------------------------------------------------------------------------------------------
# homotopy to a Nash equilibrium
# ------------------------------------------------------------------------------------------
def test_homotopy_oracles():
    # (RPS is checked in the batched test below)
    eq = solvers.solve(G23, HOMOTOPY, tol=1e-8)
    assert float(eq.relative_nash_conv) <= 1e-8  # tol is relative to the payoff ranges
    np.testing.assert_allclose(np.asarray(eq.strategies[0]), [1, 0], atol=1e-7)
    np.testing.assert_allclose(np.asarray(eq.strategies[1]), [0, 1, 0], atol=1e-7)
    np.testing.assert_allclose(float(eq.values[0]), 1.0, atol=1e-7)


def test_nearly_symmetric_game_stays_on_the_principal_branch():
    """[[2 + e, 0], [0, 1]] vs [[1, 0], [0, 2]]: the principal branch runs to the pure
    equilibrium (row 0, column 0). With tangents allowed to turn 11 degrees a step, the trace
    jumped to another branch: (0.60, 0.40) at lambda = 2 for e = 0.01, CONVERGED (its fixed-point
    residual is 1e-16), and homotopy=True ended at the mixed equilibrium where Gambit's logit
    solver ends at the pure one (a break-tester's find; pygambit's logit_solve_lambda and a
    fine-step continuation give (0.958, 0.852) at lambda = 2)."""
    for e, row, col in ((0.01, 0.958, 0.8517), (0.05, 0.9612, 0.8541)):
        g = solvers.NormalFormGame.from_bimatrix([[2 + e, 0], [0, 1]], [[1, 0], [0, 2]])
        eq = solvers.solve(g, solvers.LogitQRE(temperature=0.5))
        assert float(eq.strategies[0][0]) == pytest.approx(row, abs=1e-3)
        assert float(eq.strategies[1][0]) == pytest.approx(col, abs=1e-3)
        eq = solvers.solve(g, HOMOTOPY)
        np.testing.assert_allclose(eq.strategies[0], [1, 0], atol=1e-6)
        np.testing.assert_allclose(eq.strategies[1], [1, 0], atol=1e-6)


def test_homotopy_tends_to_the_unique_equilibrium():
    # as T -> 0 on the principal branch, NashConv -> 0 and the QRE -> the closed-form NE
    eq = solvers.solve(BIASED_RPS, HOMOTOPY, tol=1e-7)
    assert int(eq.result) == Result.CONVERGED
    assert float(eq.certificate) <= 1e-7 and float(eq.relative_nash_conv) <= 1e-7
    ne = solvers.all_equilibria(BIASED_RPS)
    assert int(ne.count) == 1
    np.testing.assert_allclose(np.asarray(eq.strategies[0]), np.asarray(ne.strategies[0][0]),
                               atol=1e-6)
    assert float(eq.stats["temperature"]) < 1e-4


@pytest.mark.slow  # batch-equals-loop runs by default for the fixed temperature above
@settings(max_examples=5)
@given(seed=st.integers(0, 2**31 - 1))
def test_homotopy_random_games_certified(seed):
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(3, 2, 3, 3))
    P[0] = np.asarray(RPS.payoffs)  # the RPS oracle rides along in every batch
    batch = solvers.solve(solvers.NormalFormGame(P, 2), HOMOTOPY, tol=1e-6, throw=False)
    np.testing.assert_allclose(np.asarray(batch.strategies[0][0]), np.full(3, 1 / 3),
                               atol=1e-12)
    codes = np.asarray(batch.result)
    assert np.all(codes == Result.CONVERGED)
    assert np.all(np.asarray(batch.relative_nash_conv) <= 1e-6)
    one = solvers.solve(solvers.NormalFormGame(P[1], 2), HOMOTOPY, tol=1e-6, throw=False)
    np.testing.assert_allclose(np.asarray(one.strategies[0]), np.asarray(batch.strategies[0][1]),
                               atol=1e-10)


def test_homotopy_reports_failure_when_tolerance_unreachable():
    # near T = final_temperature (1e-8) the QRE of a mixed equilibrium still has NashConv of
    # order 1e-8: asking for 1e-14 must end FAILED (an uncertified point), never CONVERGED
    eq = solvers.solve(BIASED_RPS, HOMOTOPY, tol=1e-14, throw=False)
    assert int(eq.result) == Result.FAILED
    assert float(eq.nash_conv) > 1e-14
    assert float(eq.nash_conv) <= 1e-6


@pytest.mark.slow  # float32 runs in test_conformance's default set
def test_float32():
    g = solvers.NormalFormGame(jnp.asarray(BIASED, jnp.float32)[None] * jnp.asarray(
        [1.0, -1.0], jnp.float32)[:, None, None], 2)
    eq = solvers.solve(g, QRE_MID, tol=1e-5)
    assert eq.strategies[0].dtype == jnp.float32
    assert float(eq.certificate) <= 1e-5
    ref = solvers.solve(BIASED_RPS, QRE_MID, tol=1e-10)
    np.testing.assert_allclose(np.asarray(eq.strategies[0]), np.asarray(ref.strategies[0]),
                               atol=1e-5)


def test_bad_config():
    with pytest.raises(ValueError, match="temperature"):
        solvers.LogitQRE()
    with pytest.raises(ValueError, match="temperature"):
        solvers.LogitQRE(temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        solvers.LogitQRE(temperature=0.5, homotopy=True)
    with pytest.raises(ValueError, match="final_temperature"):
        solvers.LogitQRE(homotopy=True, final_temperature=-1.0)
    with pytest.raises(TypeError, match="homotopy"):
        solvers.LogitQRE(temperature=0.5, homotopy="yes")
    with pytest.raises(ValueError, match="newton_steps"):
        solvers.LogitQRE(temperature=0.5, newton_steps=0)
    with pytest.raises(TypeError, match="NormalFormGame"):
        solvers.solve(object(), QRE_MID)


# ------------------------------------------------------------------------------------------
# issue 8: the temperature is a pytree leaf; gradients by the implicit function theorem
# ------------------------------------------------------------------------------------------
def test_new_temperatures_do_not_recompile():
    from socialign.solvers._solve import _run

    solvers.solve(BIASED_RPS, QRE_MID, tol=1e-10)
    before = _run._cache_size()
    strategies = [solvers.solve(BIASED_RPS, solvers.LogitQRE(temperature=t), tol=1e-10)
                  .strategies[0] for t in (0.2, 0.9, 3.0)]
    assert _run._cache_size() == before
    # hotter is closer to uniform: the temperatures are really used
    dist = [float(jnp.max(jnp.abs(s - 1 / 3))) for s in strategies]
    assert dist[0] > dist[1] > dist[2]


def test_vmap_over_temperatures_equals_loop():
    temps = jnp.array([0.2, 0.5, 2.0])
    fn = lambda t: solvers.solve(BIASED_RPS, solvers.LogitQRE(temperature=t),  # noqa: E731
                                 tol=1e-10, throw=False)
    batched = jax.vmap(fn)(temps)
    np.testing.assert_array_equal(batched.result, [Result.CONVERGED] * 3)
    for k, t in enumerate(temps):
        one = fn(float(t))
        for a, b in zip(one.strategies, batched.strategies):
            np.testing.assert_allclose(b[k], a, atol=1e-12)
        np.testing.assert_allclose(batched.values[k], one.values, atol=1e-12)


# a general-sum 3x3 game: its principal-branch QRE at T = 0.5 is regular (smooth in the data)
GENERAL_B = -BIASED.T + 0.4 * np.random.default_rng(11).normal(size=(3, 3))


def _qre_objective(A, B, temperature, throw=False):
    """A smooth function of everything solve returns: strategies and values."""
    g = solvers.NormalFormGame.from_bimatrix(A, B)
    eq = solvers.solve(g, solvers.LogitQRE(temperature=temperature), tol=1e-10, throw=throw)
    w = jnp.arange(1.0, 4.0)
    return eq.strategies[0] @ w - 2.0 * eq.strategies[1] @ w ** 2 + eq.values @ jnp.array(
        [0.7, -1.3])


def test_grad_matches_central_differences():
    # throw=True (the default) inside jax.grad: the run-time check must not break the gradient
    A, B, T = jnp.asarray(BIASED.T), jnp.asarray(GENERAL_B), 0.5
    gA, gB, gT = jax.grad(_qre_objective, argnums=(0, 1, 2))(A, B, T, True)
    f = _qre_objective  # forward solves share the compiled 3x3 loop of the other tests
    h = 1e-5
    rng = np.random.default_rng(3)
    for _ in range(2):
        dA, dB = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
        fd = (f(A + h * dA, B + h * dB, T) - f(A - h * dA, B - h * dB, T)) / (2 * h)
        assert float(jnp.sum(gA * dA) + jnp.sum(gB * dB)) == pytest.approx(float(fd), abs=1e-7)
    fd_t = (f(A, B, T + h) - f(A, B, T - h)) / (2 * h)
    assert float(gT) == pytest.approx(float(fd_t), abs=1e-7)
    assert abs(float(gT)) > 1e-3  # a real dependence, not a vacuous zero


def test_residual_is_the_logit_fixed_point():
    eq = solvers.solve(BIASED_RPS, QRE_MID, tol=1e-12)
    res = QRE_MID.residual(BIASED_RPS, eq.strategies)
    assert max(float(jnp.max(jnp.abs(r))) for r in res) <= 1e-12
    uniform = (jnp.full(3, 1 / 3), jnp.full(3, 1 / 3))
    assert max(float(jnp.max(jnp.abs(r))) for r in QRE_MID.residual(BIASED_RPS, uniform)) > 1e-2
    assert QRE_MID.differentiable and not HOMOTOPY.differentiable


def test_homotopy_refuses_gradients():
    def value(A):
        eq = solvers.solve(solvers.NormalFormGame.zero_sum(A), HOMOTOPY, tol=1e-6, throw=False)
        return eq.values[0]

    with pytest.raises(TypeError, match="LogitQRE defines no optimality conditions"):
        jax.grad(value)(jnp.asarray(BIASED))
    with pytest.raises(TypeError, match="homotopy"):
        HOMOTOPY.residual(BIASED_RPS, (jnp.full(3, 1 / 3), jnp.full(3, 1 / 3)))
