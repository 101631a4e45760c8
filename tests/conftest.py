"""Test configuration: float64 for accuracy tests, hypothesis profile sized for 2 CPU cores."""

import os

# hermetic runs: the suite neither reads nor fills the user's persistent compilation cache
# (socialign switches it on at import; see socialign.kernel.enable_compile_cache)
os.environ.setdefault("SOCIALIGN_NO_COMPILE_CACHE", "1")

import shutil  # noqa: E402
import tempfile  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

jax.config.update("jax_enable_x64", True)

# One compilation cache for this run only, shared by the pytest-xdist workers: a fresh, empty
# folder made by the first process (the controller, before it starts the workers, which inherit
# the variable) and deleted by it at the end. Test modules and doctests compile many identical
# programs (the same solver on the same shapes; `_release_compiled_programs` below drops the
# in-memory copies after each module); with the cache the second one is loaded, not compiled.
# A loaded program is the very executable XLA produced for the same program and flags, so no
# number changes. Tests that count compilations count a load from this cache as one
# (tests/test_conformance.py). SOCIALIGN_TEST_SHARED_CACHE=0 turns this off.
_OWN_CACHE = None
if os.environ.get("SOCIALIGN_TEST_SHARED_CACHE", "1") not in ("0", "false", "no", "off"):
    from socialign.kernel import enable_compile_cache  # noqa: E402

    if not os.environ.get("SOCIALIGN_TEST_CACHE_DIR"):
        _OWN_CACHE = tempfile.mkdtemp(prefix="socialign-test-cache-")
        os.environ["SOCIALIGN_TEST_CACHE_DIR"] = _OWN_CACHE
    enable_compile_cache(os.environ["SOCIALIGN_TEST_CACHE_DIR"])


def pytest_unconfigure(config):
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)

# "ci" (the default): the same examples on every run (derandomized), so a red CI run is
# reproducible and never a coin toss; "explore": fresh random examples, more of them, to hunt for
# new counterexamples (HYPOTHESIS_PROFILE=explore make test). A failure found exploring gets a
# seeded regression test (e.g. seed 4337 in tests/test_linprog.py).
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
