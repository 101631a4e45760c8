"""Fast first calls: JAX's persistent compilation cache, on by default for socialign.

A first ``solve`` in a fresh process spends nearly all its time compiling. JAX can keep the
compiled programs on disk and load them in a later process; ``import socialign`` switches that
on (:func:`enable_compile_cache`) unless the user opts out or has configured it already:

* the folder: ``$SOCIALIGN_CACHE_DIR`` if set, else ``$JAX_COMPILATION_CACHE_DIR`` (or a folder
  already set with ``jax.config.update("jax_compilation_cache_dir", ...)``), else
  ``$XDG_CACHE_HOME/socialign/jax`` (``~/.cache/socialign/jax``);
* the thresholds: every program is cached, however small or quick to compile
  (``jax_persistent_cache_min_compile_time_secs = 0``,
  ``jax_persistent_cache_min_entry_size_bytes = -1``), since socialign's programs are many and
  small and a fresh process compiles each one;
* the opt-out: ``SOCIALIGN_NO_COMPILE_CACHE=1`` (set before ``import socialign``) leaves JAX's
  configuration untouched.

Entries are keyed by the program, the JAX/XLA versions, the devices and the flags, so a stale
entry is never used; :func:`clear_compile_cache` deletes them all.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import jax

__all__ = ["clear_compile_cache", "compile_cache_dir", "enable_compile_cache"]

_OFF = ("1", "true", "yes", "on")


def _default_dir() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "socialign" / "jax"


def compile_cache_dir() -> pathlib.Path | None:
    """The folder of the persistent compilation cache JAX uses now (``None``: none is set).

    Example:
      >>> from socialign.kernel import compile_cache_dir
      >>> d = compile_cache_dir()
      >>> d is None or d.is_absolute()
      True
    """
    d = jax.config.jax_compilation_cache_dir
    return pathlib.Path(d).expanduser().resolve() if d else None


def enable_compile_cache(path=None) -> pathlib.Path:
    """Switch JAX's persistent compilation cache on, in ``path``, for every program.

    ``import socialign`` calls it with ``path=None`` (unless ``SOCIALIGN_NO_COMPILE_CACHE=1``);
    call it yourself to move the cache. ``path=None`` picks, in order: ``$SOCIALIGN_CACHE_DIR``,
    a folder already configured for JAX (``$JAX_COMPILATION_CACHE_DIR`` or
    ``jax.config.jax_compilation_cache_dir``), ``~/.cache/socialign/jax``. The folder is created
    (user-only permissions). Programs compiled from then on are written there and later
    processes load them instead of compiling.

    Args:
      path: the cache folder (a ``str`` or ``os.PathLike``), or ``None``.

    Returns:
      The cache folder (absolute).

    Raises:
      TypeError: if ``path`` is not ``None``, a ``str`` or a path.

    Example:
      >>> import tempfile
      >>> from socialign.kernel import compile_cache_dir, enable_compile_cache
      >>> before = compile_cache_dir()
      >>> d = enable_compile_cache(tempfile.mkdtemp())
      >>> compile_cache_dir() == d
      True
      >>> _ = enable_compile_cache(before) if before else None   # put it back
    """
    if path is None:
        path = (os.environ.get("SOCIALIGN_CACHE_DIR")
                or jax.config.jax_compilation_cache_dir or _default_dir())
    elif not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be None, a str or a path, got {type(path).__name__}")
    folder = pathlib.Path(path).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if compile_cache_dir() != folder:
        jax.config.update("jax_compilation_cache_dir", str(folder))
        _reset_jax_cache()
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return folder


def _reset_jax_cache() -> None:
    """Make JAX open the cache folder anew (it opens it once, at the first compile)."""
    try:
        from jax._src import compilation_cache

        compilation_cache.reset_cache()
    except Exception:  # a JAX without the private hook: the new folder applies to new processes
        pass


def clear_compile_cache(path=None) -> int:
    """Delete the persistent compilation cache's entries; return how many files went.

    Args:
      path: the folder to clear; default :func:`compile_cache_dir`.

    Returns:
      The number of files deleted (``0`` when there is no cache).

    Raises:
      TypeError: if ``path`` is not ``None``, a ``str`` or a path.

    Example:
      >>> import pathlib, tempfile
      >>> from socialign.kernel import clear_compile_cache
      >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "entry").write_bytes(b"x")
      1
      >>> clear_compile_cache(d)
      1
    """
    if path is None:
        path = compile_cache_dir()
        if path is None:
            return 0
    elif not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be None, a str or a path, got {type(path).__name__}")
    folder = pathlib.Path(path).expanduser()
    if not folder.is_dir():
        return 0
    count = 0
    for entry in list(folder.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            count += sum(1 for p in entry.rglob("*") if p.is_file())
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
            count += 1
    return count


def _switch_on_by_default() -> pathlib.Path | None:
    """What ``import socialign`` runs: :func:`enable_compile_cache` unless opted out."""
    if os.environ.get("SOCIALIGN_NO_COMPILE_CACHE", "").strip().lower() in _OFF:
        return None
    try:
        return enable_compile_cache()
    except OSError:  # a read-only home: run without a cache rather than fail to import
        return None
