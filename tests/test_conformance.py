"""One conformance suite over every solver and every designer (optax's shared test is the model).

Each solver and each designer goes through the same checks:

1. it converges on its oracle (ORACLES.md) and its answer is the known one;
2. a second, same-shaped input compiles nothing new (counted with JAX's compile events);
3. ``jax.vmap`` over a stacked batch, inside a user's ``jax.jit`` with ``throw=False``, equals a
   Python loop over the members;
4. float32 input gives a float32 answer that agrees with float64 to the dtype's tolerance
   (:func:`socialign.kernel.default_tol`-scaled);
5. ``jax.grad`` matches central finite differences where a gradient is claimed (zero-sum
   values, logit QRE, ``linprog``, contracts), and the envelope theorem for the zero-sum value
   (``d value / d A = x y^T``).

Extensive-form solvers (the CFR family and the sequence-form LP) go through the same checks on
Kuhn poker (value -1/18) and same-tree perturbations of it.

Every input is tiny and shapes are shared. Each check compiles a program of several seconds on
2 CPU cores, so the default suite runs one solver or designer of each family (``REPRESENTATIVE``)
and the cheap gradient identity; ``make test-slow`` (``-m slow``) runs the whole matrix and every
finite-difference check.
"""

from __future__ import annotations

import contextlib

import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import kernel, mechanisms, solvers
from socialign.solvers import NormalFormGame, Result

# ----------------------------------------------------------------------------- compile counting

_COMPILES = [0]


def _on_event(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILES[0] += 1


def _on_cache_hit(event, **kwargs):
    # the suite's run-wide compilation cache (tests/conftest.py) turns a recompilation of an
    # identical program into a load: still a miss of the in-memory cache, so it counts
    if event == "/jax/compilation_cache/cache_hits":
        _COMPILES[0] += 1


jax.monitoring.register_event_duration_secs_listener(_on_event)
jax.monitoring.register_event_listener(_on_cache_hit)


@contextlib.contextmanager
def count_compiles():
    """``with count_compiles() as n: ...``; ``n[0]`` is the number of XLA compilations inside."""
    box = [0]
    start = _COMPILES[0]
    try:
        yield box
    finally:
        box[0] = _COMPILES[0] - start


def test_compile_counter_counts():
    with count_compiles() as n:
        jax.jit(lambda x: x * 3 + 1)(jnp.arange(7.0))
    assert n[0] >= 1


# ----------------------------------------------------------------------------- normal-form solvers

# ORACLES.md, biased rock-paper-scissors: unique equilibrium (1/16, 10/16, 5/16), value 0
BIASED_RPS = np.array([[0.0, -0.25, 0.5], [0.25, 0.0, -0.05], [-0.5, 0.05, 0.0]])
ORACLE_X = np.array([1.0, 10.0, 5.0]) / 16
# ORACLES.md, prisoner's dilemma-like game with a strictly dominant profile (row 1, column 1)
DOMINANT = (np.array([[3.0, 0.0], [5.0, 1.0]]), np.array([[3.0, 5.0], [0.0, 1.0]]))


def _oracle_game(dtype=np.float64):
    return NormalFormGame.zero_sum(BIASED_RPS.astype(dtype))


def _perturbed(seed, n, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return NormalFormGame.zero_sum((BIASED_RPS + 0.02 * rng.uniform(-1, 1, (n, 3, 3))).astype(dtype))


# (id, solver, max_steps, tol (None: the dtype's default), exact: the answer is the oracle's)
NF = [
    ("ZeroSumLP", solvers.ZeroSumLP(), 100, None, True),
    ("ZeroSumLP-ipm", solvers.ZeroSumLP("interior_point"), 100, None, True),
    ("LemkeHowson", solvers.LemkeHowson(), 100, None, True),
    ("SupportEnumeration", solvers.SupportEnumeration(), 10, None, True),
    ("LogitQRE-homotopy", solvers.LogitQRE(homotopy=True), 2_000, 1e-6, True),
    ("LogitQRE", solvers.LogitQRE(0.1), 2_000, None, False),
    ("CorrelatedEquilibrium", solvers.CorrelatedEquilibrium(), 100, None, True),
    ("CoarseCorrelatedEquilibrium", solvers.CoarseCorrelatedEquilibrium(), 100, None, True),
    ("RegretMatchingPlus", solvers.RegretMatchingPlus(), 5_000, 3e-3, False),
    ("RegretMatching", solvers.RegretMatching(), 5_000, 3e-2, False),
    ("Hedge", solvers.Hedge(0.05), 5_000, 3e-2, False),
    ("FictitiousPlay", solvers.FictitiousPlay(), 5_000, 3e-2, False),
]
# last-iterate dynamics cycle on zero-sum games: their oracle is the dominance-solvable game
NF_DOMINANT = [
    ("OptimisticHedge", solvers.OptimisticHedge(0.1), 5_000, 1e-3),
    ("ReplicatorDynamics", solvers.ReplicatorDynamics(0.5), 5_000, 1e-3),
]
ALL_NF = [(i, s, m, t) for i, s, m, t, _ in NF] + NF_DOMINANT
# The checks that compile a batched program run by default on one solver of each family (a
# simplex, a regret dynamic, a fixed point, a last-iterate dynamic); the rest are `slow` (each
# costs a compilation of several seconds on 2 CPU cores).
REPRESENTATIVE = {"ZeroSumLP", "RegretMatchingPlus", "LogitQRE", "ReplicatorDynamics",
                  "BestLinearContract", "ClosedFormMenu", "LENClosedForm"}


def _params(rows):
    return [pytest.param(*r, id=r[0], marks=() if r[0] in REPRESENTATIVE else pytest.mark.slow)
            for r in rows]


def _game_for(name, dtype=np.float64, batch=None):
    if name in dict((i, 0) for i, *_ in NF_DOMINANT):
        A, B = (p.astype(dtype) for p in DOMINANT)
        if batch is not None:
            rng = np.random.default_rng(batch)
            A = A + 0.1 * rng.uniform(0, 1, (batch, 2, 2)).astype(dtype)
        return NormalFormGame.from_bimatrix(A, B) if batch is None else \
            NormalFormGame.from_bimatrix(A, np.broadcast_to(B, A.shape))
    return _oracle_game(dtype) if batch is None else _perturbed(1, batch, dtype)


def _solve(game, solver, max_steps, tol, throw=False):
    return solvers.solve(game, solver, max_steps=max_steps, tol=tol, throw=throw)


@pytest.mark.parametrize("name,solver,max_steps,tol,exact", _params(NF))
def test_solver_converges_on_its_oracle_and_compiles_once(name, solver, max_steps, tol, exact):
    eq = _solve(_oracle_game(), solver, max_steps, tol, throw=True)
    # a second, same-shaped game compiles nothing new
    with count_compiles() as n:
        second = _solve(NormalFormGame.zero_sum(BIASED_RPS[::-1, ::-1].copy()), solver,
                        max_steps, tol)
    assert n[0] == 0, f"{name}: {n[0]} compilation(s) for a same-shaped game"
    assert int(second.result) == Result.CONVERGED
    assert int(eq.result) == Result.CONVERGED, kernel.result_message(eq.result)
    assert float(eq.certificate) <= (tol or kernel.default_tol(jnp.float64))
    for s in eq.strategies:
        assert float(jnp.sum(s)) == pytest.approx(1.0, abs=1e-9) and float(jnp.min(s)) >= 0
    if exact:
        np.testing.assert_allclose(eq.strategies[0], ORACLE_X, atol=1e-5)
        assert float(eq.values[0]) == pytest.approx(0.0, abs=1e-6)
    else:  # an approximate equilibrium: close to the oracle in NashConv
        assert float(eq.nash_conv) <= max(tol or 0.0, 0.1)


@pytest.mark.parametrize("name,solver,max_steps,tol", _params(NF_DOMINANT))
def test_last_iterate_solver_converges_on_its_oracle(name, solver, max_steps, tol):
    eq = _solve(_game_for(name), solver, max_steps, tol, throw=True)
    assert int(eq.result) == Result.CONVERGED
    np.testing.assert_allclose(eq.strategies[0], [0.0, 1.0], atol=1e-2)
    np.testing.assert_allclose(eq.strategies[1], [0.0, 1.0], atol=1e-2)


@pytest.mark.parametrize("name,solver,max_steps,tol", _params(ALL_NF))
def test_solver_batch_jit_vmap_no_recompile(name, solver, max_steps, tol):
    batch = _game_for(name, batch=3)
    members = [jax.tree_util.tree_map(lambda x, k=k: x[k], batch) for k in range(3)]
    loop = [_solve(members[0], solver, max_steps, tol)]
    # a second (and third) same-shaped game compiles nothing new
    with count_compiles() as n:
        loop += [_solve(g, solver, max_steps, tol) for g in members[1:]]
    assert n[0] == 0, f"{name}: {n[0]} compilation(s) for a same-shaped game"
    # vmap over the stacked batch inside a user's jit, throw=False, equals the loop
    fn = jax.jit(jax.vmap(lambda g: _solve(g, solver, max_steps, tol)))
    vm = fn(batch)
    for k, one in enumerate(loop):
        assert int(vm.result[k]) == int(one.result), name
        for a, b in zip(vm.strategies, one.strategies):
            np.testing.assert_allclose(a[k], b, rtol=1e-7, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(vm.nash_conv[k], one.nash_conv, rtol=1e-6, atol=1e-10)
    if name in REPRESENTATIVE:  # the auto-batched path (the game's leading axes): the same
        auto = _solve(batch, solver, max_steps, tol)
        np.testing.assert_array_equal(auto.result, vm.result)
        for a, b in zip(auto.strategies, vm.strategies):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("name,solver,max_steps,tol", _params(ALL_NF))
def test_solver_float32(name, solver, max_steps, tol):
    tol32 = max(tol or 0.0, kernel.default_tol(jnp.float32))
    eq32 = _solve(_game_for(name, np.float32), solver, max_steps, tol32)
    eq64 = _solve(_game_for(name), solver, max_steps, tol)
    assert eq32.strategies[0].dtype == jnp.float32 and eq32.nash_conv.dtype == jnp.float32
    assert int(eq32.result) == Result.CONVERGED, (name, kernel.result_message(eq32.result))
    assert float(eq32.nash_conv) <= max(tol32, float(eq64.nash_conv)) * 10
    # the same answer as float64, to the tolerances' scale (dynamics: their own tolerance)
    atol = 10 * tol32 if tol is None else max(10 * tol, 0.1)
    np.testing.assert_allclose(eq32.strategies[0], eq64.strategies[0], atol=atol)


# ----------------------------------------------------------------------------- extensive-form solvers

# ORACLES.md, Kuhn poker: the game value is -1/18 for player 0
KUHN_VALUE = -1.0 / 18.0
EFG = [
    ("SequenceFormLP", solvers.SequenceFormLP(), 200, 1e-8, True),
    ("CFRPlus", solvers.CFRPlus(), 2_000, 2e-3, False),
    ("CFR", solvers.CFR(), 2_000, 2e-2, False),
    ("DiscountedCFR", solvers.DiscountedCFR(), 2_000, 2e-3, False),
    ("PredictiveCFRPlus", solvers.PredictiveCFRPlus(), 2_000, 2e-3, False),
    ("MCCFR", solvers.MCCFR(), 3_000, 0.15, False),  # outcome sampling: NashConv ~0.1 at 3,000
]
# SequenceFormLP's conformance run (~24 s on 2 cores) is slow: tests/test_sequence_form.py checks
# its Kuhn value and a batch in the default suite
EFG_REPRESENTATIVE = {"CFRPlus"}


def _efg_params(rows):
    return [pytest.param(*r, id=r[0],
                         marks=() if r[0] in EFG_REPRESENTATIVE else pytest.mark.slow)
            for r in rows]


def _kuhn_like(kuhn, seed, batch=None, dtype=np.float64):
    """Kuhn poker with its zero-sum payoffs perturbed (same tree, so same shapes)."""
    u = np.asarray(kuhn.utilities)[..., :1]
    if seed is not None:
        shape = (batch, *u.shape) if batch is not None else u.shape
        u = u + 0.05 * np.random.default_rng(seed).uniform(-1, 1, shape)
    return kuhn.with_utilities(np.concatenate([u, -u], axis=-1).astype(dtype))


@pytest.mark.parametrize("name,solver,max_steps,tol,exact", _efg_params(EFG))
def test_efg_solver_oracle_no_recompile_vmap_and_float32(kuhn, name, solver, max_steps, tol,
                                                         exact):
    key = jax.random.key(0)
    eq = solvers.solve(kuhn, solver, max_steps=max_steps, tol=tol, key=key, throw=False)
    assert int(eq.result) == Result.CONVERGED, (name, kernel.result_message(eq.result))
    # tol bounds NashConv relative to each player's payoff range (4 in Kuhn poker)
    assert float(eq.relative_nash_conv) <= tol
    assert float(eq.nash_conv) <= 4 * tol
    values = solvers.expected_values(kuhn, eq.strategies)
    # an eps-equilibrium's value is within eps (payoff units) of the game value
    assert abs(float(values[0]) - KUHN_VALUE) <= (1e-7 if exact else 4 * tol), name
    # a second, same-shaped game compiles nothing new
    other = _kuhn_like(kuhn, 1)
    with count_compiles() as n:
        second = solvers.solve(other, solver, max_steps=max_steps, tol=tol, key=key,
                               throw=False)
    assert n[0] == 0, f"{name}: {n[0]} compilation(s) for a same-shaped game"
    assert float(second.relative_nash_conv) <= max(tol, float(second.certificate))
    # vmap over a batch of games inside a user's jit equals a Python loop
    batch = _kuhn_like(kuhn, 2, batch=2)
    fn = jax.jit(jax.vmap(lambda g: solvers.solve(g, solver, max_steps=max_steps, tol=tol,
                                                  key=key, throw=False)))
    vm = fn(batch)
    for k in range(2):
        one = solvers.solve(batch[k], solver, max_steps=max_steps, tol=tol, key=key,
                            throw=False)
        assert int(vm.result[k]) == int(one.result), name
        np.testing.assert_allclose(vm.strategies[k], one.strategies, rtol=1e-7, atol=1e-9)
    # float32 in, float32 out, the same answer to the dtype's tolerance
    tol32 = max(tol, kernel.default_tol(jnp.float32))
    eq32 = solvers.solve(_kuhn_like(kuhn, None, dtype=np.float32), solver,
                         max_steps=max_steps, tol=tol32, key=key, throw=False)
    assert eq32.strategies.dtype == jnp.float32 and eq32.nash_conv.dtype == jnp.float32
    assert int(eq32.result) == Result.CONVERGED, (name, kernel.result_message(eq32.result))
    v32 = solvers.expected_values(_kuhn_like(kuhn, None, dtype=np.float32), eq32.strategies)
    assert abs(float(v32[0]) - KUHN_VALUE) <= 4 * max(10 * tol32, tol)


# ----------------------------------------------------------------------------- solver gradients


def _zero_sum_value(A, solver):
    return solvers.solve(NormalFormGame.zero_sum(A), solver, throw=False).values[0]


ZS = [pytest.param(solvers.ZeroSumLP(), id="simplex"),
      pytest.param(solvers.ZeroSumLP("interior_point"), id="interior_point",
                   marks=pytest.mark.slow)]


@pytest.mark.parametrize("solver", ZS)
def test_zero_sum_value_gradient_is_x_y_transpose(solver):
    # issue 8: d value / d A = x y^T for [[4, 1], [1, 2]], x = y = (1/4, 3/4)
    A = jnp.array([[4.0, 1.0], [1.0, 2.0]])
    g = jax.grad(_zero_sum_value)(A, solver)
    want = np.outer([0.25, 0.75], [0.25, 0.75])
    np.testing.assert_allclose(g, want, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("solver", [solvers.ZeroSumLP(), solvers.ZeroSumLP("interior_point")],
                         ids=["simplex", "interior_point"])
def test_zero_sum_value_gradient_matches_finite_differences(solver):
    # central differences on a random 3x3 game with a unique mixed equilibrium
    A3 = jnp.asarray(BIASED_RPS + 0.05 * np.random.default_rng(3).uniform(-1, 1, (3, 3)))
    g3 = jax.grad(_zero_sum_value)(A3, solver)
    f = jax.jit(lambda A: _zero_sum_value(A, solver))
    h = 1e-6
    fd = np.array([[(f(A3.at[i, j].add(h)) - f(A3.at[i, j].add(-h))) / (2 * h)
                    for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(g3, fd, atol=1e-6)


@pytest.mark.slow
def test_logit_qre_gradients_match_finite_differences():
    A = jnp.asarray(BIASED_RPS + 0.05 * np.random.default_rng(4).uniform(-1, 1, (3, 3)))
    w = jnp.array([1.0, -2.0, 0.5])

    def f(A, t):
        eq = solvers.solve(NormalFormGame.zero_sum(A), solvers.LogitQRE(t), tol=1e-12,
                           max_steps=2_000, throw=False)
        return eq.strategies[0] @ w + eq.strategies[1] @ w[::-1]

    fj = jax.jit(f)
    gA, gt = jax.jit(jax.grad(f, argnums=(0, 1)))(A, 0.3)
    h = 1e-6
    fdA = np.array([[(fj(A.at[i, j].add(h), 0.3) - fj(A.at[i, j].add(-h), 0.3)) / (2 * h)
                     for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(gA, fdA, rtol=1e-5, atol=1e-7)
    fdt = (fj(A, 0.3 + h) - fj(A, 0.3 - h)) / (2 * h)
    assert float(gt) == pytest.approx(float(fdt), rel=1e-5, abs=1e-7)


@pytest.mark.slow
def test_linprog_gradients_match_finite_differences():
    # min c.x s.t. A_ub x <= b_ub, x >= 0: a unique, nondegenerate vertex
    c = jnp.array([-1.0, -2.0])
    A_ub = jnp.array([[1.0, 1.0], [1.0, 3.0]])
    b_ub = jnp.array([4.0, 6.0])

    def f(c, A_ub, b_ub):
        return solvers.linprog(c=c, A_ub=A_ub, b_ub=b_ub).fun

    assert float(f(c, A_ub, b_ub)) == pytest.approx(-5.0)  # x = (3, 1)
    grads = jax.jit(jax.grad(f, argnums=(0, 1, 2)))(c, A_ub, b_ub)
    fj = jax.jit(f)
    h = 1e-6
    args = [c, A_ub, b_ub]
    for k, g in enumerate(grads):
        flat = np.asarray(args[k]).ravel()
        fd = []
        for i in range(flat.size):
            e = np.zeros_like(flat)
            e[i] = h
            up = [a if j != k else jnp.asarray((flat + e).reshape(args[k].shape))
                  for j, a in enumerate(args)]
            dn = [a if j != k else jnp.asarray((flat - e).reshape(args[k].shape))
                  for j, a in enumerate(args)]
            fd.append((fj(*up) - fj(*dn)) / (2 * h))
        np.testing.assert_allclose(np.ravel(g), fd, rtol=1e-5, atol=1e-7,
                                   err_msg=f"d fun / d {['c', 'A_ub', 'b_ub'][k]}")


# ----------------------------------------------------------------------------- designers

PA = dict(outcome_probs=[[0.6, 0.4], [0.2, 0.8]], costs=[0.0, 1.0], rewards=[0.0, 10.0])


def _pa(dtype=np.float64, shift=0.0):
    return mechanisms.PrincipalAgent(np.asarray(PA["outcome_probs"], dtype),
                                     np.asarray(PA["costs"], dtype) + dtype(shift),
                                     np.asarray(PA["rewards"], dtype))


def _screening(dtype=np.float64, shift=0.0):
    return mechanisms.Screening(np.asarray([-2.0, -1.0], dtype) + dtype(shift),
                                np.asarray([0.5, 0.5], dtype),
                                mechanisms.QuadraticSurplus(dtype(4.0), dtype(1.0)))


def _persuasion(dtype=np.float64, shift=0.0):
    return mechanisms.BayesianPersuasion(np.asarray([0.3 + shift, 0.7 - shift], dtype),
                                         np.asarray([[1.0, 0.0], [1.0, 0.0]], dtype),
                                         np.asarray([[1.0, 0.0], [0.0, 1.0]], dtype))


def _auction(dtype=np.float64, shift=0.0):
    return mechanisms.FiniteMechanismDesign(
        np.asarray([[[0.0, 1.0], [0.0, 2.0], [0.0, 3.0 + shift]]], dtype),
        np.asarray([[1 / 3] * 3], dtype))


def _len(dtype=np.float64, shift=0.0):
    return mechanisms.LENModel(dtype(1.0 + shift), dtype(1.0), dtype(1.0))


# (id, problem builder, designer, oracle principal value (ORACLES.md) or None, tol for float32)
DESIGNERS = [
    ("OptimalContract", _pa, lambda: mechanisms.OptimalContract(), 6.0),
    ("MinPayContract", _pa, lambda: mechanisms.MinPayContract(0), 4.0),
    ("BestLinearContract", _pa, lambda: mechanisms.BestLinearContract(), 6.0),
    ("ClosedFormMenu", _screening, lambda: mechanisms.ClosedFormMenu(), 2.5),
    ("OptimalMenu", _screening, lambda: mechanisms.OptimalMenu(np.linspace(0, 4, 9)), 2.5),
    ("OptimalSignal", _persuasion, lambda: mechanisms.OptimalSignal(), 0.6),
    ("OptimalMechanism", _auction, lambda: mechanisms.OptimalMechanism("revenue"), 4 / 3),
    ("LENClosedForm", _len, lambda: mechanisms.LENClosedForm(), 0.25),
    ("LENNumeric", _len, lambda: mechanisms.LENNumeric(), 0.25),
]
DIDS = [d[0] for d in DESIGNERS]


def _stack(problems):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *problems)


@pytest.mark.parametrize("name,problem,designer,value", _params(DESIGNERS))
def test_designer_converges_on_its_oracle(name, problem, designer, value):
    d = mechanisms.design(problem(), designer(), throw=True)
    assert int(d.result) == Result.CONVERGED, kernel.result_message(d.result)
    assert float(d.principal_value) == pytest.approx(value, abs=1e-6)
    assert float(d.incentive_violation) >= 0 and float(d.incentive_violation) <= 1e-6
    assert float(d.participation_violation) >= 0 and float(d.participation_violation) <= 1e-6


@pytest.mark.parametrize("name,problem,designer,value", _params(DESIGNERS))
def test_designer_batch_jit_vmap_no_recompile(name, problem, designer, value):
    shifts = [0.0, 0.05, 0.1]
    d0 = mechanisms.design(problem(shift=shifts[0]), designer(), throw=False)
    with count_compiles() as n:
        loop = [d0] + [mechanisms.design(problem(shift=s), designer(), throw=False)
                       for s in shifts[1:]]
    assert n[0] == 0, f"{name}: {n[0]} compilation(s) for a same-shaped problem"
    batch = _stack([problem(shift=s) for s in shifts])
    vm = jax.jit(jax.vmap(lambda p: mechanisms.design(p, designer(), throw=False)))(batch)
    for k, one in enumerate(loop):
        assert int(vm.result[k]) == int(one.result), name
        np.testing.assert_allclose(vm.principal_value[k], one.principal_value, rtol=1e-7,
                                   atol=1e-9, err_msg=name)
    # the problem's own leading axes: the same answer
    auto = mechanisms.design(batch, designer(), throw=False)
    np.testing.assert_allclose(auto.principal_value, vm.principal_value, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name,problem,designer,value", _params(DESIGNERS))
def test_designer_float32(name, problem, designer, value):
    d = mechanisms.design(problem(np.float32), designer(), throw=False)
    assert d.principal_value.dtype == jnp.float32, name
    assert int(d.result) == Result.CONVERGED, (name, kernel.result_message(d.result))
    tol = 100 * kernel.default_tol(jnp.float32) * max(1.0, abs(value))
    assert float(d.principal_value) == pytest.approx(value, abs=tol)


# ----------------------------------------------------------------------------- designer gradients


@pytest.mark.slow
def test_contract_principal_value_gradient_matches_finite_differences():
    def value(costs):
        pa = mechanisms.PrincipalAgent(PA["outcome_probs"], costs, PA["rewards"])
        return mechanisms.design(pa, mechanisms.OptimalContract(), throw=False).principal_value

    costs = jnp.array([0.0, 1.0])
    g = jax.jit(jax.grad(value))(costs)
    f = jax.jit(value)
    h = 1e-6
    fd = [(f(costs.at[i].add(h)) - f(costs.at[i].add(-h))) / (2 * h) for i in range(2)]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_quantal_contract_same_value_eager_jit_vmap_and_temperature_gradient():
    # issue 8: the quantal contract gives one answer wherever it runs, and d value / d temperature
    pa = _pa()

    def value(t):
        agent = mechanisms.QuantalResponse(t, [0.5, 0.5])
        return mechanisms.design(pa, mechanisms.OptimalContract(agent=agent),
                                 throw=False).principal_value

    eager = float(value(0.1))
    jitted = jax.jit(value)
    assert float(jitted(0.1)) == pytest.approx(eager, abs=1e-6)
    ts = jnp.array([0.1, 0.2])
    batched = jax.jit(jax.vmap(value))(ts)
    assert float(batched[0]) == pytest.approx(eager, abs=1e-6)
    assert float(batched[1]) == pytest.approx(float(jitted(0.2)), abs=1e-6)
    g = float(jax.jit(jax.grad(value))(0.1))
    h = 1e-5
    fd = (float(jitted(0.1 + h)) - float(jitted(0.1 - h))) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-3, abs=1e-5)
