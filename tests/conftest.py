"""Test configuration: float64 for accuracy tests, hypothesis profile sized for 2 CPU cores."""

import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


# Shared OpenSpiel games for the extensive-form test modules (compiled once per session).
@pytest.fixture(scope="session")
def kuhn():
    from socialign.solvers import ExtensiveFormGame

    return ExtensiveFormGame.from_openspiel("kuhn_poker")


@pytest.fixture(scope="session")
def leduc():
    from socialign.solvers import ExtensiveFormGame

    return ExtensiveFormGame.from_openspiel("leduc_poker")


@pytest.fixture(scope="module", autouse=True)
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module.

    The default suite compiles thousands of small XLA programs; kept alive together they exhaust
    the process's memory maps (the kernel's vm.max_map_count, 65,530 here) and XLA aborts in the
    middle of a later compilation. Modules rarely share shapes, so little is recompiled.
    """
    yield
    jax.clear_caches()
