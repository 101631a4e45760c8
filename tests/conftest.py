"""Test configuration: float64 for accuracy tests, hypothesis profile sized for 2 CPU cores."""

import os

# hermetic runs: the suite neither reads nor fills the user's persistent compilation cache
# (socialign switches it on at import; see socialign.kernel.enable_compile_cache)
os.environ.setdefault("SOCIALIGN_NO_COMPILE_CACHE", "1")

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

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
