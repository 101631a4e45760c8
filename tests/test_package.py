"""The distribution's shape: one import root, lazy heavy dependencies, imports that flow downward.

- ``pip install socialign`` installs exactly one top-level import package, ``socialign`` (the
  wheel build is ``slow``: it fetches the build backend; the default suite checks that the
  ``pyproject.toml`` package list covers every package folder, which is what the wheel
  contains);
- ``import socialign.solvers`` and ``import socialign.mechanisms`` load no flax, orbax or
  OpenSpiel (they load on first use);
- imports flow one way, ``kernel -> solvers -> mechanisms -> llm_bridge``, and no module imports
  a private module of another subpackage (read from the source with ``ast``, function-level
  imports included);
- nothing in the code, the docstrings, the benchmarks, the tests or the README imports the old
  generic top-level names (``import solvers``, ``from mechanisms import ...``).
"""

from __future__ import annotations

import ast
import functools
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile

import pytest
import socialign

ROOT = pathlib.Path(socialign.__file__).resolve().parent
ORDER = {"kernel": 0, "solvers": 1, "mechanisms": 2, "llm_bridge": 3}
HEAVY = ("flax", "orbax", "open_spiel", "pyspiel")


def _modules() -> dict[str, pathlib.Path]:
    """Every module of the package: dotted name -> file."""
    mods = {"socialign": ROOT / "__init__.py"}
    for sub in ORDER:
        for path in sorted((ROOT / sub).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(["socialign", *parts])] = path
    return mods


MODULES = _modules()


def _package_of(modname: str, path: pathlib.Path) -> str:
    return modname if path.name == "__init__.py" else modname.rpartition(".")[0]


def _imports(modname: str, path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, absolute module or module.name) for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    package = _package_of(modname, path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


def _subpackage(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] == "socialign" and len(parts) > 1 and parts[1] in ORDER:
        return parts[1]
    return None


# ----------------------------------------------------------------------------- imports flow down


@functools.cache
def _import_violations() -> tuple[list[str], list[str]]:
    upward, private = [], []
    for modname, path in MODULES.items():
        own = _subpackage(modname)
        if own is None:
            continue  # the root __init__ loads subpackages lazily, by name
        for line, target in _imports(modname, path):
            other = _subpackage(target)
            if other is None or other == own:
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if ORDER[other] > ORDER[own]:
                upward.append(where)
            if any(p.startswith("_") and not p.startswith("__") for p in target.split(".")[2:]):
                private.append(where)
    return upward, private


def test_imports_flow_downward():
    upward, _ = _import_violations()
    assert not upward, ("imports must flow kernel -> solvers -> mechanisms -> llm_bridge; "
                        "upward imports:\n  " + "\n  ".join(upward))


def test_no_private_imports_across_subpackages():
    _, private = _import_violations()
    assert not private, ("a subpackage may use another only through its public __init__; "
                         "private imports:\n  " + "\n  ".join(private))


def test_kernel_imports_nothing_of_socialign():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {t}" for m, p in MODULES.items()
           if _subpackage(m) == "kernel" for line, t in _imports(m, p)
           if t.startswith("socialign.") and _subpackage(t) != "kernel"]
    assert not bad, "\n".join(bad)


def test_the_import_checker_can_fail(tmp_path):
    """The checker resolves relative imports and sees function-level ones."""
    f = tmp_path / "_x.py"
    f.write_text("def g():\n    from ...mechanisms._contracts import y\nfrom .._solve import z\n")
    got = sorted(t for _, t in _imports("socialign.solvers.sub._x", f))
    assert got == ["socialign.mechanisms._contracts.y", "socialign.solvers._solve.z"]


OLD_ROOTS = re.compile(r"^\s*(?:>>>\s*|\.\.\.\s*)?(?:import|from)\s+(kernel|solvers|mechanisms|"
                       r"llm_bridge)\b(?!\s*=)", flags=re.M)


def test_no_old_top_level_imports():
    """``import solvers`` only works from the repository root, and would load a second copy."""
    files = [*MODULES.values(), *sorted((ROOT / "tests").glob("*.py")),
             *sorted((ROOT / "benchmarks").rglob("*.py")), ROOT / "README.md"]
    bad = []
    for path in files:
        text = path.read_text()
        for m in OLD_ROOTS.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            bad.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0).strip()}")
    assert not bad, ("use `from socialign import ...`; old top-level imports:\n  "
                     + "\n  ".join(bad))


# ----------------------------------------------------------------------------- lazy heavy imports


LIGHT = ["socialign", "socialign.kernel", "socialign.solvers", "socialign.mechanisms"]


def test_import_does_not_load_flax_orbax_or_open_spiel():
    # one subprocess imports the light packages one after the other and reports what each added
    code = "\n".join([
        "import importlib, json, sys",
        f"HEAVY, LIGHT = {HEAVY!r}, {LIGHT!r}",
        "heavy = lambda: sorted(m for m in sys.modules if m.split('.')[0] in HEAVY)",
        "print(json.dumps({w: (importlib.import_module(w), heavy())[1] for w in LIGHT}))",
    ])
    # run outside the repository, so the installed package is what is imported
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), timeout=300)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert list(loaded) == LIGHT
    bad = {w: mods for w, mods in loaded.items() if mods}
    assert not bad, f"importing these loads heavy packages (load them on first use): {bad}"


# ----------------------------------------------------------------------------- one import root


def _declared_packages() -> list[str]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert cfg.get("package-dir") == {"socialign": "."}, cfg.get("package-dir")
    return cfg["packages"]


def _package_folders() -> list[str]:
    found = ["socialign"]
    for sub in ORDER:
        for init in sorted((ROOT / sub).rglob("__init__.py")):
            found.append(".".join(["socialign", *init.parent.relative_to(ROOT).parts]))
    return found


def test_pyproject_lists_every_package_folder():
    declared = _declared_packages()
    assert all(p == "socialign" or p.startswith("socialign.") for p in declared), declared
    missing = sorted(set(_package_folders()) - set(declared))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    stale = sorted(set(declared) - set(_package_folders()))
    assert not stale, f"pyproject.toml lists packages that do not exist: {stale}"


def test_every_source_folder_is_a_package():
    """A folder of modules without __init__.py would be left out of the wheel."""
    bad = sorted({str(p.parent.relative_to(ROOT)) for sub in ORDER
                  for p in (ROOT / sub).rglob("*.py") if not (p.parent / "__init__.py").exists()
                  and "__pycache__" not in p.parts})
    assert not bad, f"folders with modules but no __init__.py: {bad}"


def _tracked_sources() -> list[str]:
    out = subprocess.run(["git", "ls-files", "pyproject.toml", "README.md", "__init__.py",
                          *ORDER], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.slow
def test_wheel_installs_exactly_one_top_level_package(tmp_path):
    src = tmp_path / "src"
    files = _tracked_sources()
    for rel in files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes((ROOT / rel).read_bytes())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(src), "-w",
                    str(tmp_path / "dist")], check=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("socialign-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"socialign"}, f"the wheel installs top-level names {sorted(tops)}"
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["socialign"]
    want = {"socialign/" + f for f in files if f.endswith(".py")}
    missing = sorted(want - set(names))
    assert not missing, f"modules missing from the wheel: {missing}"
