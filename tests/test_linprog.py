"""solvers.linprog against scipy HiGHS, plus infeasible/unbounded detection and batching."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize as so
from hypothesis import given
from hypothesis import strategies as st
from socialign import solvers
from socialign.solvers import Result


def _random_lp(rng, m=5, n=7):
    A = rng.normal(size=(m, n))
    b = rng.uniform(0.5, 2.0, size=m)
    c = rng.normal(size=n)
    A_eq = rng.uniform(0, 1, size=(1, n))
    b_eq = np.array([1.0])
    return c, A, b, A_eq, b_eq


def test_small_known_lp():
    sol = solvers.linprog(c=[-1.0, -2.0], A_ub=[[1.0, 1.0]], b_ub=[4.0], bounds=(0, 3))
    assert int(sol.status) == Result.CONVERGED
    np.testing.assert_allclose(sol.x, [1.0, 3.0], atol=1e-8)
    assert float(sol.fun) == pytest.approx(-7.0, abs=1e-8)
    assert float(sol.duality_gap) < 1e-7 and float(sol.primal_residual) < 1e-8
    # scipy's sign convention: d fun / d b_ub = -1 (one more unit of capacity lowers cost by 1)
    assert float(sol.ineqlin[0]) == pytest.approx(-1.0, abs=1e-6)


BOUND_PATTERNS = [
    [(0, None)] * 6,
    [(0, None), (-1, None), (None, None), (0, 2.0), (None, 2.0), (0, None)],
    [(None, None)] * 3 + [(0, 1.0)] * 3,
]


@pytest.mark.parametrize("pattern", range(len(BOUND_PATTERNS)))
@given(seed=st.integers(0, 100_000))
def test_agrees_with_highs_on_random_lps(pattern, seed):
    rng = np.random.default_rng(seed)
    c, A, b, A_eq, b_eq = _random_lp(rng, 4, 6)  # fixed shapes: one compilation per pattern
    bounds = BOUND_PATTERNS[pattern]
    ref = so.linprog(c, A, b, A_eq, b_eq, bounds=bounds, method="highs")
    sol = solvers.linprog(c, A, b, A_eq, b_eq, bounds=bounds)
    status = int(sol.status)
    if ref.status == 0:
        assert status == Result.CONVERGED
        assert float(sol.fun) == pytest.approx(ref.fun, abs=1e-6 * (1 + abs(ref.fun)))
        assert float(sol.primal_residual) < 1e-6
    else:
        # HiGHS: 2 infeasible, 3 unbounded. A problem that is both primal infeasible and has a
        # descent ray may be certified either way by the self-dual embedding; never "optimal".
        assert ref.status in (2, 3)
        assert status in (Result.INFEASIBLE, Result.UNBOUNDED)
        if ref.status == 3:
            assert status == Result.UNBOUNDED


def test_infeasible_and_unbounded_are_reported_not_nan():
    inf = solvers.linprog([1.0, 1.0], A_ub=[[1.0, 1.0]], b_ub=[-1.0])
    assert int(inf.status) == Result.INFEASIBLE
    unb = solvers.linprog([-1.0, 0.0], A_ub=[[-1.0, 1.0]], b_ub=[1.0])
    assert int(unb.status) == Result.UNBOUNDED
    eq_inf = solvers.linprog([1.0, 0.0], A_eq=[[1.0, 1.0], [1.0, 1.0]], b_eq=[1.0, 2.0])
    assert int(eq_inf.status) == Result.INFEASIBLE


def test_empty_equality_row_is_infeasible_for_every_method():
    """Issue 9's case: 0 x = 3 cannot hold (x >= 0); was UNBOUNDED under the interior point."""
    for method in ("auto", "dual_simplex", "interior_point"):
        sol = solvers.linprog(c=[4.0], A_eq=[[0.0], [9.0]], b_eq=[3.0, 10.0], method=method)
        assert int(sol.status) == Result.INFEASIBLE, method
        assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree_util.tree_leaves(sol))
    # the same empty row with a zero right-hand side is vacuous: x = 10/9
    sol = solvers.linprog(c=[4.0], A_eq=[[0.0], [9.0]], b_eq=[0.0, 10.0],
                          method="interior_point")
    assert int(sol.status) == Result.CONVERGED
    assert float(sol.x[0]) == pytest.approx(10 / 9, abs=1e-8)


def test_batched_equals_loop_and_vmap():
    rng = np.random.default_rng(3)
    B, n = 6, 4
    C = rng.normal(size=(B, n))
    A = rng.uniform(0.1, 1.0, size=(B, 3, n))
    b = np.ones(3)
    sol = solvers.linprog(C, A_ub=A, b_ub=b, bounds=(0, 1))
    assert sol.x.shape == (B, n) and sol.status.shape == (B,)
    vm = jax.vmap(lambda c, a: solvers.linprog(c, A_ub=a, b_ub=b, bounds=(0, 1)))(C, A)
    for k in range(B):
        one = solvers.linprog(C[k], A_ub=A[k], b_ub=b, bounds=(0, 1))
        ref = so.linprog(C[k], A[k], b, bounds=(0, 1), method="highs")
        assert float(one.fun) == pytest.approx(ref.fun, abs=1e-7)
        assert float(sol.fun[k]) == pytest.approx(float(one.fun), abs=1e-9)
        assert float(vm.fun[k]) == pytest.approx(float(one.fun), abs=1e-9)


def test_jit_and_float32():
    c = jnp.array([-1.0, -2.0], dtype=jnp.float32)
    f = jax.jit(lambda c: solvers.linprog(c, A_ub=jnp.ones((1, 2), jnp.float32),
                                          b_ub=jnp.ones(1, jnp.float32) * 4, bounds=(0, 3)))
    sol = f(c)
    assert sol.x.dtype == jnp.float32
    assert int(sol.status) == Result.CONVERGED
    assert float(sol.fun) == pytest.approx(-7.0, rel=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match="c must be finite"):
        solvers.linprog([np.nan, 1.0])
    with pytest.raises(ValueError, match="A_ub must have shape"):
        solvers.linprog([1.0, 1.0], A_ub=[[1.0, 1.0, 1.0]], b_ub=[1.0])
    with pytest.raises(ValueError, match="b_ub must have shape"):
        solvers.linprog([1.0, 1.0], A_ub=[[1.0, 1.0]], b_ub=[1.0, 2.0])
    with pytest.raises(ValueError, match="given together"):
        solvers.linprog([1.0, 1.0], A_ub=[[1.0, 1.0]])
    with pytest.raises(ValueError, match="lower bound"):
        solvers.linprog([1.0], bounds=[(2.0, 1.0)])
    with pytest.raises(ValueError, match="bounds has 1 pairs"):
        solvers.linprog([1.0, 1.0], bounds=[(0, 1)])
    with pytest.raises(ValueError, match="A_eq must be finite"):
        solvers.linprog([1.0], A_eq=[[np.inf]], b_eq=[1.0])
    with pytest.raises(ValueError, match="max_steps"):
        solvers.linprog([1.0], max_steps=0)


# -- methods: dual simplex, primal simplex, auto (one pivot kernel), on the same LPs ---------
def _min_pay_batch(rng, B=16, A=4, O=6):
    """Grossman-Hart min-pay LPs (c >= 0: the dual simplex's form), some of them infeasible."""
    P = rng.dirichlet(np.ones(O), size=(B, A))
    cost = np.sort(rng.uniform(0, 1, (B, A)), -1)
    k = 1 + np.arange(B) % (A - 1)
    c = P[np.arange(B), k]
    rows = P - c[:, None, :]
    G = np.concatenate([np.delete(rows, 0, axis=1)[:, : A - 1], -c[:, None, :]], axis=1)
    h = np.concatenate([np.delete(cost - cost[np.arange(B), k][:, None], 0, axis=1)[:, : A - 1],
                        -cost[np.arange(B), k][:, None]], axis=1)
    return c, G, h


@pytest.mark.parametrize("method", ["dual_simplex", "auto"])
def test_dual_simplex_matches_highs_batched_and_chunked(method):
    c, G, h = _min_pay_batch(np.random.default_rng(0))
    sol = solvers.linprog(c, G, h, method=method, batch_size=5)  # 16 = 3 chunks of 5 + 1
    full = solvers.linprog(c, G, h, method=method)
    np.testing.assert_array_equal(np.asarray(sol.status), np.asarray(full.status))
    for i in range(c.shape[0]):
        ref = so.linprog(c[i], G[i], h[i], method="highs")
        if ref.status == 0:
            assert int(sol.status[i]) == Result.CONVERGED
            assert float(sol.fun[i]) == pytest.approx(ref.fun, abs=1e-9 * (1 + abs(ref.fun)))
            assert float(full.fun[i]) == pytest.approx(float(sol.fun[i]), abs=1e-12)
        else:
            assert int(sol.status[i]) == Result.INFEASIBLE


def test_pivoting_methods_certify_or_refuse():
    # primal simplex: b_ub >= 0; dual simplex: c >= 0; each refuses (FAILED) what it cannot start
    lp = dict(c=[-1.0, -2.0], A_ub=[[1.0, 1.0], [1.0, 3.0]], b_ub=[4.0, 9.0])
    ref = so.linprog(lp["c"], lp["A_ub"], lp["b_ub"], method="highs")
    for method in ("simplex", "auto", "interior_point"):
        sol = solvers.linprog(**lp, method=method)
        assert int(sol.status) == Result.CONVERGED
        assert float(sol.fun) == pytest.approx(ref.fun, abs=1e-8)
        np.testing.assert_allclose(sol.ineqlin, ref.ineqlin.marginals, atol=1e-7)
    assert int(solvers.linprog(**lp, method="dual_simplex").status) == Result.FAILED
    unb = solvers.linprog([-1.0, 0.0], A_ub=[[-1.0, 1.0]], b_ub=[1.0], method="simplex")
    assert int(unb.status) == Result.UNBOUNDED
    inf = solvers.linprog([1.0, 1.0], A_ub=[[1.0, 1.0]], b_ub=[-1.0], method="dual_simplex")
    assert int(inf.status) == Result.INFEASIBLE
    # equalities and two-sided bounds through the dual simplex (c >= 0 after the shift)
    sol = solvers.linprog([1.0, 2.0, 0.5], A_eq=[[1.0, 1.0, 1.0]], b_eq=[2.0],
                          bounds=[(0, 1), (0.5, None), (0, 0.25)], method="dual_simplex")
    ref = so.linprog([1.0, 2.0, 0.5], A_eq=[[1.0, 1.0, 1.0]], b_eq=[2.0],
                     bounds=[(0, 1), (0.5, None), (0, 0.25)], method="highs")
    assert int(sol.status) == Result.CONVERGED
    assert float(sol.fun) == pytest.approx(ref.fun, abs=1e-9)
    np.testing.assert_allclose(sol.eqlin, ref.eqlin.marginals, atol=1e-9)


def test_same_answer_eager_jit_vmap_and_throw():
    c, G, h = _min_pay_batch(np.random.default_rng(1), B=4)
    eager = solvers.linprog(c, G, h, method="auto")
    jitted = jax.jit(lambda c, G, h: solvers.linprog(c, G, h, method="auto"))(c, G, h)
    vm = jax.vmap(lambda c, G, h: solvers.linprog(c, G, h, method="auto"))(c, G, h)
    for other in (jitted, vm):
        np.testing.assert_array_equal(np.asarray(other.status), np.asarray(eager.status))
        np.testing.assert_allclose(other.fun, eager.fun, atol=1e-12)
    with pytest.raises(solvers_error()):
        solvers.linprog([1.0, 1.0], A_ub=[[1.0, 1.0]], b_ub=[-1.0], throw=True)
    with pytest.raises(ValueError, match="method"):
        solvers.linprog([1.0], method="highs")


def solvers_error():
    from socialign.kernel import NotConvergedError

    return NotConvergedError


def _central_difference(f, args, k, h=1e-6):
    out = np.zeros_like(args[k])
    for idx in np.ndindex(args[k].shape):
        p = [np.array(a, dtype=float) for a in args]
        m = [np.array(a, dtype=float) for a in args]
        p[k][idx] += h
        m[k][idx] -= h
        out[idx] = (float(f(*p)) - float(f(*m))) / (2 * h)
    return out


@pytest.mark.parametrize("method", ["auto", pytest.param("interior_point",
                                                          marks=pytest.mark.slow)])
def test_implicit_gradients_match_central_differences(method):
    # a unique nondegenerate optimum: two active inequalities, one equality, a lower bound
    c = np.array([-1.0, -2.0, 0.5])
    A_ub = np.array([[1.0, 1.0, 0.0], [1.0, 3.0, 0.0]])
    b_ub = np.array([4.0, 9.0])
    A_eq = np.array([[0.0, 0.0, 1.0]])
    b_eq = np.array([1.0])

    def fun(c, A_ub, b_ub, A_eq, b_eq):
        return solvers.linprog(c, A_ub, b_ub, A_eq, b_eq, method=method).fun

    def xw(c, A_ub, b_ub, A_eq, b_eq):
        return solvers.linprog(c, A_ub, b_ub, A_eq, b_eq, method=method).x @ jnp.array(
            [1.0, 0.3, -0.7])

    args = [c, A_ub, b_ub, A_eq, b_eq]
    for f in (fun, xw):
        grads = jax.grad(f, argnums=(0, 1, 2, 3, 4))(*map(jnp.asarray, args))
        for k in range(5):
            np.testing.assert_allclose(grads[k], _central_difference(f, args, k), atol=1e-6)
    # envelope: d fun / d c = x, d fun / d b_ub = ineqlin
    sol = solvers.linprog(c, A_ub, b_ub, A_eq, b_eq, method=method)
    g = jax.grad(fun, argnums=(0, 2))(*map(jnp.asarray, args))
    np.testing.assert_allclose(g[0], sol.x, atol=1e-8)
    np.testing.assert_allclose(g[1], sol.ineqlin, atol=1e-8)
