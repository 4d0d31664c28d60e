"""The dependency rule (docs/architecture.md), checked with import-linter over the import graph:
the core never imports a front end (``cli``, ``web``) or the storage (``store``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: front ends and storage: everything else of the package is core
OUTER = {"cli", "web", "store", "__main__"}


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def _top_level_modules() -> set[str]:
    package = resources.files("kommunaltypen")
    names = set()
    for entry in package.iterdir():
        name = entry.name
        if name.startswith("_") and name != "__main__.py":
            continue
        if entry.is_dir() and (Path(str(entry)) / "__init__.py").is_file():
            names.add(name)
        elif name.endswith(".py"):
            names.add(name[:-3])
    return names


def test_every_core_module_is_under_the_contract() -> None:
    core = {m.split(".", 1)[1] for m in _contracts()[0]["source_modules"]}
    modules = _top_level_modules()
    missing = sorted(modules - OUTER - core)
    assert not missing, f"add these core modules to the first import contract: {missing}"
    assert not (core - modules), f"contract names modules that do not exist: {core - modules}"


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run(
        [exe, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken." in proc.stdout, proc.stdout
