"""Shared command line and run record of the benchmark scripts.

Every script under ``benchmarks/`` builds its parser with :func:`make_parser` (which adds
``--platform {cpu,gpu,tpu}``, ``--dtype {float32,float64}``, ``--out`` and, where the script has
a batch axis, ``--batch-sizes``), parses it with :func:`parse_args` (which applies the platform
and the dtype to JAX before the first computation) and puts :func:`run_record` (device kind,
platform, JAX version, CPU count, load average, date) in its JSON::

    from _common import make_parser, parse_args, run_record   # first import of the script

    parser = make_parser(__doc__, out="results/x.json", batch_sizes=[1, 64, 4096])
    args = parse_args(parser)               # sets JAX_PLATFORMS / jax_enable_x64
    result = {**run_record(args), "rows": ...}

The platform is fixed through ``JAX_PLATFORMS`` and JAX's ``jax_platforms`` option: the scripts
import ``jax`` at the top, but JAX picks its backend at the first computation, which comes after
:func:`parse_args`. A platform that is not present fails there with JAX's own error (a GPU run on
a machine without one does not silently fall back to the CPU).

This module imports nothing heavy, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

__all__ = ["PLATFORMS", "DTYPES", "make_parser", "parse_args", "apply_platform", "run_record"]

#: what ``--platform`` accepts, and the ``JAX_PLATFORMS`` value each one sets
PLATFORMS = {"cpu": "cpu", "gpu": "cuda", "tpu": "tpu"}
DTYPES = ("float32", "float64")


def _batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--batch-sizes takes positive integers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--batch-sizes takes positive integers, got {text!r}")
    return sizes


def make_parser(doc: str | None, *, out: str, dtype: str = "float64",
                batch_sizes: list[int] | None = None) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with the options every benchmark shares.

    Args:
      doc: the script's docstring (its first line is the description, the rest the epilog).
      out: the default ``--out`` path (relative paths are taken from the ``benchmarks`` folder).
      dtype: the default ``--dtype``.
      batch_sizes: the default ``--batch-sizes`` sweep; ``None`` for a script without a batch
        axis (then the option is not offered).

    Returns:
      The parser; the script adds its own options.
    """
    first, _, rest = (doc or "").strip().partition("\n")
    parser = argparse.ArgumentParser(description=first, epilog=rest.strip() or None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default=None,
                        help="run on this JAX platform (sets JAX_PLATFORMS); default: JAX's "
                             "choice (an accelerator when there is one)")
    parser.add_argument("--dtype", choices=DTYPES, default=dtype,
                        help=f"float precision of the run (default {dtype})")
    if batch_sizes is not None:
        parser.add_argument("--batch-sizes", type=_batch_sizes, default=list(batch_sizes),
                            help="batch sizes to sweep, e.g. 1,64,4096 (default "
                                 f"{','.join(map(str, batch_sizes))})")
    if not os.path.isabs(out):
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), out)
    parser.add_argument("--out", default=out, help=f"JSON results path (default {out})")
    return parser


def apply_platform(platform_name: str | None, dtype: str = "float64") -> None:
    """Point JAX at ``platform_name`` and switch float64 on or off.

    Call it before the first JAX computation of the process (importing ``jax`` earlier is
    fine).

    Raises:
      ValueError: on an unknown platform or dtype.
      RuntimeError: if JAX has already started a different backend.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if platform_name is not None:
        if platform_name not in PLATFORMS:
            raise ValueError(f"platform must be one of {sorted(PLATFORMS)}, got "
                             f"{platform_name!r}")
        os.environ["JAX_PLATFORMS"] = PLATFORMS[platform_name]
    if "jax" in sys.modules:
        import jax

        if platform_name is not None:
            try:
                jax.config.update("jax_platforms", PLATFORMS[platform_name])
            except Exception as e:  # the backend is already up
                raise RuntimeError(f"--platform {platform_name}: JAX already started its "
                                   f"backend; parse the arguments before computing") from e
        jax.config.update("jax_enable_x64", dtype == "float64")


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv`` and apply ``--platform``/``--dtype`` (:func:`apply_platform`)."""
    args = parser.parse_args(argv)
    apply_platform(args.platform, args.dtype)
    return args


def run_record(args: argparse.Namespace | None = None) -> dict:
    """What a result needs to be read later: the device, software, machine and its load.

    Keys: ``device`` (e.g. ``"cpu:cpu"``, ``"gpu:NVIDIA H200"``), ``device_kind``,
    ``backend``, ``device_count``, ``jax``, ``jaxlib``, ``python``, ``machine``, ``cpu_count``
    (the CPUs this process may use), ``load_average`` (1, 5, 15 minutes: far above
    ``cpu_count`` means the times are inflated), ``date`` (UTC), and ``platform_flag``,
    ``dtype``, ``batch_sizes`` from ``args`` when given.
    """
    import jax
    import jaxlib

    d = jax.devices()[0]
    rec = {"device": f"{d.platform}:{d.device_kind}", "device_kind": d.device_kind,
           "backend": jax.default_backend(), "device_count": jax.device_count(),
           "jax": jax.__version__, "jaxlib": jaxlib.__version__,
           "python": platform.python_version(), "machine": platform.platform(),
           "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
           else os.cpu_count(),
           "load_average": [round(x, 2) for x in os.getloadavg()],
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if args is not None:
        rec["platform_flag"] = getattr(args, "platform", None)
        rec["dtype"] = getattr(args, "dtype", None)
        if hasattr(args, "batch_sizes"):
            rec["batch_sizes"] = list(args.batch_sizes)
    return rec
