"""LEN model: Holmstrom-Milgrom closed form and the numerical solver agree (ORACLES.md)."""

import numpy as np
import pytest
from socialign import mechanisms as M
from socialign.solvers import Result


def test_oracle_and_batched_numeric_agrees_with_closed_form():
    rng = np.random.default_rng(0)
    r = rng.uniform(0.0, 3.0, 12)
    c = rng.uniform(0.3, 2.0, 12)
    s2 = rng.uniform(0.0, 2.0, 12)
    R = rng.uniform(-0.5, 0.5, 12)
    r[0] = 0.0  # risk-neutral agent: first best, slope 1
    r[1], c[1], s2[1], R[1] = 1.0, 1.0, 1.0, 0.0  # ORACLES: b* = 0.5, profit 0.25 (FB 0.5)
    m = M.LENModel(r, c, s2, R)
    cf, num = M.len_closed_form(m), M.len_optimal_contract(m)
    assert float(cf.slope[1]) == pytest.approx(0.5) and float(cf.effort[1]) == pytest.approx(0.5)
    assert float(cf.principal_value[1]) == pytest.approx(0.25)
    assert float(cf.first_best_value[1]) == pytest.approx(0.5)
    assert float(num.slope[1]) == pytest.approx(0.5, abs=1e-8)
    assert float(num.principal_value[1]) == pytest.approx(0.25, abs=1e-12)
    assert np.all(np.asarray(num.result) == Result.CONVERGED)
    for f in ("slope", "intercept", "effort", "principal_value", "first_best_value"):
        np.testing.assert_allclose(getattr(num, f), getattr(cf, f), rtol=1e-7, atol=1e-8)
    assert float(cf.slope[0]) == pytest.approx(1.0)
    assert np.all(np.asarray(cf.agency_cost) >= -1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="effort_cost"):
        M.LENModel(1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="risk_aversion"):
        M.LENModel(-1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="noise_variance"):
        M.LENModel(1.0, 1.0, float("nan"))
    with pytest.raises(TypeError, match="model"):
        M.len_closed_form((1.0, 1.0, 1.0))
