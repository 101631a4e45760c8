"""Screening: Laffont-Martimort two-type oracle, Mussa-Rosen continuum, LP vs closed form,
ironing against pool-adjacent-violators, and the kernel's model (jit, vmap, dtypes, designers)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import mechanisms as M
from socialign.kernel import default_tol, pytree_dataclass
from socialign.solvers import Result

S_LM = M.QuadraticSurplus(4.0, 1.0)  # S(q) = 4q - q^2/2
COST = M.QuadraticSurplus(0.0, 1.0)  # S(q) = -q^2/2: selling at cost q^2/2
GRID = np.linspace(0.0, 4.0, 17)


@pytree_dataclass
class HalfSquare(M.Surplus):
    """A user-defined surplus without a maximizer: exercises the bisection path."""

    a: float = 1.0

    def __call__(self, q):
        return -self.a * q**2 / 2


def pav(phi, p):
    """Reference ironing: pool adjacent violators (Python loop)."""
    blocks = []
    for v, w in zip(phi, p):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([[b[0]] * b[2] for b in blocks])


def test_two_type_oracle_closed_form_and_lp():
    # producer costs theta_L = 1, theta_H = 2 (types are -cost), prior 1/2 each
    sc = M.Screening([-2.0, -1.0], [0.5, 0.5], S_LM)
    cf = M.screening_closed_form(sc)
    assert int(cf.result) == Result.CONVERGED
    np.testing.assert_allclose(cf.allocations, [1.0, 3.0], atol=1e-9)  # q_H = 1, q_L = 3
    np.testing.assert_allclose(cf.transfers, [2.0, 4.0], atol=1e-9)  # t_H = 2, t_L = 4
    assert float(cf.principal_value) == pytest.approx(2.5, abs=1e-9)
    assert float(cf.first_best_value) == pytest.approx(3.25, abs=1e-9)
    np.testing.assert_allclose(cf.agent_values, [0.0, 1.0], atol=1e-9)  # rent to L
    assert float(cf.incentive_violation) <= 1e-9 and float(cf.participation_violation) <= 1e-9
    lp = M.optimal_menu(sc, GRID)
    assert int(lp.result) == Result.CONVERGED
    assert float(lp.principal_value) == pytest.approx(2.5, abs=1e-7)
    np.testing.assert_allclose(lp.allocations, [1.0, 3.0], atol=1e-6)
    assert float(lp.incentive_violation) <= 1e-7 and float(lp.participation_violation) <= 1e-7
    np.testing.assert_allclose(np.sum(lp.lotteries, -1), 1.0, atol=1e-12)


def test_random_types_lp_matches_closed_form_on_grid():
    rng = np.random.default_rng(0)
    th = np.sort(rng.uniform(0.5, 3.0, 2))  # 2 types and 17 grid points: the oracle's LP shape
    p = rng.dirichlet(np.ones(2))
    sc = M.Screening(th, p, COST, max_allocation=10.0)
    cf = M.screening_closed_form(sc)
    grid = np.concatenate([np.linspace(0, 4, 15), np.asarray(cf.allocations)])
    lp = M.optimal_menu(sc, grid)
    assert int(lp.result) == Result.CONVERGED
    assert float(lp.principal_value) == pytest.approx(float(cf.principal_value), abs=1e-7)
    assert float(cf.incentive_violation) <= 1e-9 and float(cf.participation_violation) <= 1e-9
    # no distortion at the top; rents increase with the type
    assert float(cf.allocations[-1]) == pytest.approx(th[-1], abs=1e-9)
    assert np.all(np.diff(np.asarray(cf.agent_values)) >= -1e-12)


def test_mussa_rosen_continuum_limit():
    """Uniform valuations on [0, 1], cost q^2/2: q(theta) = max(0, 2 theta - 1), revenue 1/12."""
    K = 400
    th = (np.arange(K) + 0.5) / K
    sc = M.Screening(th, np.full(K, 1.0 / K), COST, max_allocation=10.0)
    cf = M.screening_closed_form(sc)
    np.testing.assert_allclose(cf.allocations, np.maximum(0, 2 * th - 1), atol=2.0 / K)
    assert float(cf.principal_value) == pytest.approx(1 / 12, abs=1e-3)


def test_ironing_matches_pool_adjacent_violators():
    # a light middle type makes the raw virtual values non-monotone: types 1 and 2 are pooled
    th, p = np.array([1.0, 2.0, 3.0]), np.array([0.45, 0.1, 0.45])
    F = np.cumsum(p)
    raw = th - np.append(np.diff(th), 0) * (1 - F) / p
    assert raw[1] < raw[0]
    ironed = pav(raw, p)
    sc = M.Screening(th, p, COST, max_allocation=10.0)
    cf = M.screening_closed_form(sc)
    # S'(q) = -q, so q_i = max(0, phi*_i): pooled types get the same allocation
    np.testing.assert_allclose(cf.allocations, np.maximum(ironed, 0.0), atol=1e-12)
    assert float(cf.incentive_violation) <= 1e-9
    # ironing on random non-monotone virtual values equals PAV
    rng = np.random.default_rng(1)
    for _ in range(5):
        K = 6
        thr = np.sort(rng.uniform(0, 3, K))
        pr = rng.dirichlet(np.full(K, 0.5)) + 1e-3
        pr /= pr.sum()
        Fr = np.cumsum(pr)
        rawr = thr - np.append(np.diff(thr), 0) * (1 - Fr) / pr
        out = M.screening_closed_form(M.Screening(thr, pr, M.QuadraticSurplus(5.0, 1.0)))
        np.testing.assert_allclose(out.allocations, np.clip(5.0 + pav(rawr, pr), 0, None),
                                   atol=1e-9)
        assert np.all(np.diff(np.asarray(out.allocations)) >= -1e-12)


def test_user_surplus_bisection_and_log_surplus():
    sc = M.Screening([1.0, 2.0, 3.0], [0.45, 0.1, 0.45], HalfSquare(), max_allocation=10.0)
    ref = M.screening_closed_form(M.Screening([1.0, 2.0, 3.0], [0.45, 0.1, 0.45], COST,
                                              max_allocation=10.0))
    out = M.screening_closed_form(sc)
    assert int(out.result) == Result.CONVERGED
    np.testing.assert_allclose(out.allocations, ref.allocations, atol=1e-12)
    assert float(out.certificate) <= 1e-12
    out = M.screening_closed_form(sc, max_steps=3)  # the bisection budget is reported
    assert int(out.result) == Result.MAX_STEPS_REACHED
    # S(q) = 2 log(1 + q), one type theta = -0.5: S'(q) = 0.5 at q = 3
    lg = M.screening_closed_form(M.Screening([-0.5], [1.0], M.LogSurplus(2.0)))
    assert float(lg.allocations[0]) == pytest.approx(3.0, abs=1e-12)


def random_batch(B, K, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    th = np.sort(rng.uniform(0.5, 3.0, (B, K)), axis=-1).astype(dtype)
    p = rng.dirichlet(np.ones(K), size=B).astype(dtype)
    slope = rng.uniform(0.0, 2.0, B).astype(dtype)
    return th, p, slope


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_closed_form_jit_vmap_dtypes(dtype):
    th, p, slope = random_batch(4, 3, 2, dtype)
    tol = 50 * default_tol(dtype)

    def one(th, p, slope):
        sc = M.Screening(th, p, M.QuadraticSurplus(slope, 1.0), max_allocation=10.0)
        return M.screening_closed_form(sc)

    eager = one(th[0], p[0], slope[0])
    jit_one = jax.jit(one)
    loop = [jit_one(th[b], p[b], slope[b]) for b in range(4)]
    mapped = jax.vmap(one)(th, p, slope)
    batched = M.screening_closed_form(M.Screening(th, p, M.QuadraticSurplus(slope, 1.0),
                                                  max_allocation=10.0))
    assert mapped.principal_value.dtype == dtype and eager.principal_value.dtype == dtype
    np.testing.assert_allclose(loop[0].allocations, eager.allocations, atol=tol)
    np.testing.assert_allclose(loop[0].transfers, eager.transfers, atol=tol)
    for b in range(4):
        for out in (mapped, batched):
            np.testing.assert_allclose(out.allocations[b], loop[b].allocations, atol=tol)
            np.testing.assert_allclose(out.transfers[b], loop[b].transfers, atol=tol)
            assert float(out.principal_value[b]) == pytest.approx(
                float(loop[b].principal_value), abs=tol)
        assert int(loop[b].result) == Result.CONVERGED
        assert float(loop[b].incentive_violation) <= tol
    if dtype == np.float32:  # float32 agrees with float64 to dtype-scaled tolerance
        ref = M.screening_closed_form(M.Screening(th.astype(np.float64), p.astype(np.float64),
                                                  M.QuadraticSurplus(slope.astype(np.float64),
                                                                     1.0), max_allocation=10.0))
        np.testing.assert_allclose(batched.principal_value, ref.principal_value, atol=tol)


# ~13 s on 2 cores per dtype: slow; the closed-form menu's jit/vmap/dtype test stays default
@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimal_menu_jit_vmap_dtypes(dtype):
    th, p, slope = random_batch(2, 2, 3)

    def one(th, p, slope):
        grid = GRID.astype(th.dtype)
        return M.optimal_menu(M.Screening(th, p, M.QuadraticSurplus(slope, 1.0)), grid)

    # a user's jit around vmap, in float64 and float32, against an eager float64 Python loop
    loop = [one(th[b], p[b], slope[b]) for b in range(2)]
    # float32 (slow here: the conformance suite runs every designer in float32 by default)
    tol = 50 * default_tol(dtype)
    mapped = jax.jit(jax.vmap(one))(th.astype(dtype), p.astype(dtype), slope.astype(dtype))
    assert mapped.principal_value.dtype == dtype
    for b in range(2):
        assert int(loop[b].result) == Result.CONVERGED
        assert int(mapped.result[b]) == Result.CONVERGED
        assert float(mapped.principal_value[b]) == pytest.approx(
            float(loop[b].principal_value), abs=tol)
        np.testing.assert_allclose(mapped.allocations[b], loop[b].allocations, atol=tol)
        assert float(mapped.incentive_violation[b]) <= tol
    for b in range(2):  # the LP over a grid never beats the unrestricted closed form
        cf = M.screening_closed_form(M.Screening(th[b], p[b], M.QuadraticSurplus(slope[b], 1.0)))
        assert float(loop[b].principal_value) <= float(cf.principal_value) + 1e-9


def test_designers_and_the_design_verb():
    batch = M.Screening([[-2.0, -1.0], [-2.0, -1.0]], [[0.5, 0.5], [0.5, 0.5]],
                        M.QuadraticSurplus([4.0, 5.0], 1.0))
    cf = M.design(batch, M.ClosedFormMenu())
    assert cf.principal_value.shape == (2,) and cf.agent_values.shape == (2, 2)
    assert float(cf.principal_value[0]) == pytest.approx(2.5, abs=1e-9)
    lp = M.design(M.Screening([-2.0, -1.0], [0.5, 0.5], S_LM), M.OptimalMenu(GRID))
    for d in (cf, lp):
        assert isinstance(d, M.Design) and isinstance(d.mechanism, M.Menu)
        assert np.all(np.asarray(d.result) == Result.CONVERGED)
        assert np.all(np.asarray(d.incentive_violation) >= 0)
        assert np.all(np.asarray(d.participation_violation) >= 0)
    assert float(lp.principal_value) == pytest.approx(2.5, abs=1e-7)
    assert int(lp.stats["num_steps"]) > 0
    with pytest.raises(TypeError, match="designs for"):
        M.design(M.BayesianPersuasion([1.0], [[1.0]], [[1.0]]), M.ClosedFormMenu())


def test_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        M.Screening([2.0, 1.0], [0.5, 0.5], S_LM)
    with pytest.raises(ValueError, match="prior"):
        M.Screening([1.0, 2.0], [0.5, 0.6], S_LM)
    with pytest.raises(TypeError, match="surplus"):
        M.Screening([1.0, 2.0], [0.5, 0.5], 3.0)
    with pytest.raises(TypeError, match="surplus"):
        M.Screening([1.0, 2.0], [0.5, 0.5], lambda q: 4 * q - q**2 / 2)
    with pytest.raises(ValueError, match="curvature"):
        M.QuadraticSurplus(1.0, -1.0)
    with pytest.raises(ValueError, match="max_allocation"):
        M.Screening([1.0, 2.0], [0.5, 0.5], S_LM, max_allocation=-1.0)
    with pytest.raises(ValueError, match="grid"):
        M.optimal_menu(M.Screening([1.0, 2.0], [0.5, 0.5], S_LM), [[0.0, 1.0]])
    with pytest.raises(ValueError, match="grid"):
        M.OptimalMenu([-1.0, 1.0])
    with pytest.raises(TypeError, match="Screening"):
        M.screening_closed_form(jnp.ones(2))
