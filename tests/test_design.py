"""Contracts on the kernel's model: one verb, jit/vmap give the eager answer, envelope gradients.

Issue 8's checks for contracts: the quantal contract of ORACLES.md gives the same principal
value eagerly, inside ``jax.jit`` and under ``jax.vmap`` over temperatures, and its gradient
with respect to the temperature matches central differences; best-response contracts run inside
a user's ``jit`` and ``vmap`` over costs equals a Python loop; the principal value's gradients
with respect to the problem's numbers and a CARA coefficient match finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from socialign import mechanisms as M
from socialign.solvers import Result

P2 = np.array([[0.6, 0.4], [0.2, 0.8]])
C2, R2 = np.array([0.0, 1.0]), np.array([0.0, 10.0])
PA = M.PrincipalAgent(P2, C2, R2)
PRIOR = jnp.array([0.5, 0.5])


# the temperatures of the quantal checks: three, then 0.1 +- h for central differences (one
# batch shape for the eager design and the user's jit/vmap/grad, two compilations in all)
H = 1e-4
TEMPS = jnp.array([0.05, 0.1, 0.2, 0.1 + H, 0.1 - H])


def test_quantal_contract_same_value_eager_jit_vmap_and_grad():
    batch = M.PrincipalAgent(np.broadcast_to(P2, (5, 2, 2)), C2, R2)
    eager = M.optimal_contract(batch, agent=M.QuantalResponse(TEMPS, PRIOR))
    assert np.all(np.asarray(eager.result) == Result.CONVERGED)
    v0 = float(eager.principal_value[1])
    # the eager answer of the first version (pay 3.13 on success), now everywhere
    assert v0 == pytest.approx(5.2914, abs=2e-3)
    assert float(eager.payments[1, 1]) == pytest.approx(3.13, abs=0.01)
    # a user's jit, vmap over temperatures and grad, all at once
    f = jax.jit(lambda T: M.optimal_contract(PA, agent=M.QuantalResponse(T, PRIOR))
                .principal_value)
    values, grads = jax.vmap(jax.value_and_grad(f))(TEMPS)
    np.testing.assert_allclose(values, eager.principal_value, atol=1e-6)
    # a smoother agent costs the principal more
    assert values[0] > values[1] > values[2]
    # envelope theorem: d value / d temperature against central differences (eager values)
    fd = (float(eager.principal_value[3]) - float(eager.principal_value[4])) / (2 * H)
    g = float(grads[1])
    assert g < 0 and abs(g - fd) <= 1e-4 * (1 + abs(fd))


@pytest.mark.slow
def test_quantal_contract_scalar_jit_and_python_loop_equal_eager():
    eager = M.optimal_contract(PA, agent=M.QuantalResponse(0.1, PRIOR))
    v0 = float(eager.principal_value)
    f = jax.jit(lambda T: M.optimal_contract(PA, agent=M.QuantalResponse(T, PRIOR))
                .principal_value)
    assert abs(float(f(0.1)) - v0) <= 1e-6
    temps = jnp.array([0.05, 0.1, 0.2])
    batched = jax.vmap(f)(temps)
    loop = np.array([float(f(T)) for T in temps])
    np.testing.assert_allclose(batched, loop, atol=1e-6)
    g = float(jax.grad(f)(0.1))
    fd = (float(f(0.1 + H)) - float(f(0.1 - H))) / (2 * H)
    assert abs(g - fd) <= 1e-4 * (1 + abs(fd))


@pytest.mark.slow
def test_quantal_contract_random_problems_eager_equals_jit_and_vmap():
    rng = np.random.default_rng(7)
    B, A, O = 3, 3, 4
    P = rng.dirichlet(np.ones(O), size=(B, A))
    c = np.sort(rng.uniform(0, 1, (B, A)), -1)
    r = np.sort(rng.uniform(0, 10, (B, O)), -1)
    temps = jnp.array([0.05, 0.2, 0.5])
    eager = M.optimal_contract(M.PrincipalAgent(P, c, r), agent=M.QuantalResponse(temps))

    def one(P, c, r, T):
        return M.optimal_contract(M.PrincipalAgent(P, c, r),
                                  agent=M.QuantalResponse(T)).principal_value

    vm = jax.jit(jax.vmap(one))(P, c, r, temps)
    np.testing.assert_allclose(vm, eager.principal_value, atol=1e-6)
    jitted = jax.jit(one)
    for i in range(B):
        assert abs(float(jitted(P[i], c[i], r[i], temps[i])) - float(eager.principal_value[i])
                   ) <= 1e-6


# one problem shape (3 actions, 4 outcomes; batches of 6) for the best-response checks
A3, O4, NB = 3, 4, 6


def _br_value(P, c, r):
    return M.optimal_contract(M.PrincipalAgent(P, c, r)).principal_value


BR_VALUE = jax.jit(_br_value)


def test_best_response_contract_inside_jit_and_vmap_over_costs_equals_loop():
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(O4), size=A3)
    r = np.sort(rng.uniform(0, 10, O4))
    costs = np.sort(rng.uniform(0, 1, (NB, A3)), -1)
    vm = jax.vmap(BR_VALUE, in_axes=(None, 0, None))(P, costs, r)
    eager = M.optimal_contract(M.PrincipalAgent(np.broadcast_to(P, (NB, A3, O4)), costs, r))
    np.testing.assert_allclose(vm, eager.principal_value, atol=1e-9)
    # the spelling, jit over one member's numbers (a third compiled program, ~10 s):
    # test_best_response_contract_vmap_equals_python_loop (slow) calls it member by member


@pytest.mark.slow
def test_best_response_contract_vmap_equals_python_loop():
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(O4), size=A3)
    r = np.sort(rng.uniform(0, 10, O4))
    costs = np.sort(rng.uniform(0, 1, (NB, A3)), -1)
    vm = jax.vmap(BR_VALUE, in_axes=(None, 0, None))(P, costs, r)
    np.testing.assert_allclose(vm, [float(BR_VALUE(P, c, r)) for c in costs], atol=1e-9)


def _row_zero_direction(rng, shape):
    d = rng.normal(size=shape)
    return d - d.mean(-1, keepdims=True)


def test_principal_value_gradient_matches_finite_differences():
    """Envelope theorem on the min-pay LP: d value / d (P, c, r) at the chosen action."""
    rng = np.random.default_rng(11)
    A, O = A3, O4
    r = np.array([0.0, 2.0, 6.0, 10.0])
    P = rng.dirichlet(np.ones(O) * 2, size=A)
    P = P[np.argsort(P @ r)]  # costlier actions are more productive
    # costs away from 0: at R + c_0 = 0 the zero contract sits on a kink of the value
    c = np.array([0.1, 0.3, 0.7])
    # the eager gradient shares the compiled LP batch of the eager design (zero tangents in)
    gP, gc, gr = jax.grad(_br_value, argnums=(0, 1, 2))(P, c, r)
    dirs = [(_row_zero_direction(rng, (A, O)), np.zeros(A), np.zeros(O)),
            (np.zeros((A, O)), rng.normal(size=A), np.zeros(O)),
            (np.zeros((A, O)), np.zeros(A), rng.normal(size=O))]
    h = 1e-6
    # every perturbed problem in one batched call
    Ps = np.stack([P + s * h * d[0] for d in dirs for s in (1, -1)])
    cs = np.stack([c + s * h * d[1] for d in dirs for s in (1, -1)])
    rs = np.stack([r + s * h * d[2] for d in dirs for s in (1, -1)])
    fd_batch = M.optimal_contract(M.PrincipalAgent(Ps, cs, rs))
    # an action that needs incentives (IC multipliers matter)
    assert np.all(np.asarray(fd_batch.action) != 0)
    out = np.asarray(fd_batch.principal_value)
    for i, (dP, dc, dr) in enumerate(dirs):
        fd = (out[2 * i] - out[2 * i + 1]) / (2 * h)
        ad = float(np.sum(gP * dP) + np.sum(gc * dc) + np.sum(gr * dr))
        assert abs(ad - fd) <= 1e-5 * (1 + abs(fd)), (i, ad, fd)
    assert float(np.sum(np.abs(gc))) > 0  # the chosen action's cost matters


@pytest.mark.slow
def test_risk_averse_gradient_in_cara_coefficient():
    def value(rc, c1):
        pa = M.PrincipalAgent(P2, jnp.stack([0.0, c1]), R2, agent_utility=M.CARA(rc))
        return M.optimal_contract(pa).principal_value

    f = jax.jit(value)
    g_r, g_c = jax.grad(f, argnums=(0, 1))(0.3, 1.0)
    h = 1e-5
    fd_r = (float(f(0.3 + h, 1.0)) - float(f(0.3 - h, 1.0))) / (2 * h)
    fd_c = (float(f(0.3, 1.0 + h)) - float(f(0.3, 1.0 - h))) / (2 * h)
    assert abs(float(g_r) - fd_r) <= 1e-5 * (1 + abs(fd_r))
    assert abs(float(g_c) - fd_c) <= 1e-5 * (1 + abs(fd_c))
    assert float(g_r) < 0  # a more risk-averse agent is dearer to motivate
    # a new coefficient does not recompile, and vmap over it equals the loop
    rs = jnp.array([0.1, 0.3, 0.9])
    np.testing.assert_allclose(jax.vmap(f, in_axes=(0, None))(rs, 1.0),
                               [float(f(x, 1.0)) for x in rs], atol=1e-9)


@pytest.mark.slow
def test_one_verb_for_every_contract_designer():
    d = M.design(PA, M.OptimalContract())
    assert isinstance(d, M.Design) and isinstance(d.mechanism, M.Contract)
    assert float(d.principal_value) == pytest.approx(6.0, abs=1e-9)
    assert float(d.incentive_violation) <= 1e-9 and float(d.participation_violation) <= 1e-9
    assert float(d.agent_values) == pytest.approx(1.0, abs=1e-9)
    d0 = M.design(PA, M.MinPayContract(0))
    assert float(d0.principal_value) == pytest.approx(4.0, abs=1e-9)
    lin = M.design(PA, M.BestLinearContract())
    assert float(lin.mechanism.stats["share"]) == pytest.approx(0.25)
    # inside a user's jit, with throw=False (the result code is read instead)
    jd = jax.jit(lambda pa: M.design(pa, M.OptimalContract(), throw=False))(PA)
    assert float(jd.principal_value) == pytest.approx(6.0, abs=1e-9)
    assert int(jd.result) == Result.CONVERGED
    # an infeasible target is a result, and throw=True raises on it
    P = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    bad = M.PrincipalAgent(P, [0.0, 0.2, 1.0], [0.0, 10.0])
    with pytest.raises(Exception, match="did not converge"):
        M.design(bad, M.MinPayContract(2))
    assert int(M.design(bad, M.MinPayContract(2), throw=False).result) == Result.INFEASIBLE
    with pytest.raises(TypeError, match="PrincipalAgent"):
        M.design(M.LENModel(1.0, 1.0, 1.0), M.OptimalContract())
    m = M.LENModel(1.0, 1.0, 1.0)
    assert float(M.design(m, M.LENClosedForm()).principal_value) == pytest.approx(0.25)
    assert float(M.design(m, M.LENNumeric()).principal_value) == pytest.approx(0.25, abs=1e-10)


def test_utilities_are_values():
    u = M.CARA(2.0)
    assert jax.tree_util.tree_leaves(u) == [u.r]
    assert M.Sqrt() == M.Sqrt() and hash(jax.tree_util.tree_structure(M.Sqrt())) is not None
    with pytest.raises(ValueError, match="risk aversion"):
        M.CARA(-1.0)
    pa = M.PrincipalAgent(np.broadcast_to(P2, (3, 2, 2)), C2, R2, agent_utility=M.CARA(0.5))
    assert pa.agent_utility.r.shape == (3,) and pa[1].agent_utility.r.shape == ()
