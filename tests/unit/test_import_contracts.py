"""The import-linter contracts in pyproject.toml name every private module of the
core and every wing, so a module added later cannot slip past them."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ACTORS = ROOT / "src" / "actors"
CORE_PACKAGES = {"supervision"}  # subpackages that belong to the core, not wings


def _contract(name: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["name"] == name:
            result: dict[str, Any] = contract
            return result
    raise AssertionError(f"no import contract named {name!r}")


def _core_private_modules() -> set[str]:
    return {
        f"actors.{path.stem}"
        for path in ACTORS.glob("_*.py")
        if path.name != "__init__.py" and not path.stem.startswith("__")
    }


def _wings() -> set[str]:
    return {
        f"actors.{path.parent.name}"
        for path in ACTORS.glob("*/__init__.py")
        if path.parent.name not in CORE_PACKAGES
    }


def test_every_private_module_of_the_core_is_kept_from_the_wings() -> None:
    core = _core_private_modules()
    assert "actors._cell" in core
    guarded = set(
        _contract("Wings use only public names and the low-level door")["forbidden_modules"]
    )
    assert core <= guarded, f"add {sorted(core - guarded)} to the wings' contract"
    sources = set(_contract("The core imports no wing")["source_modules"])
    assert core <= sources, f"add {sorted(core - sources)} to the core's contract"


def test_every_wing_is_held_to_the_door_and_kept_out_of_the_core() -> None:
    wings = _wings()
    assert {"actors.remote", "actors.testing"} <= wings
    door = set(_contract("Wings use only public names and the low-level door")["source_modules"])
    assert wings <= door, f"add {sorted(wings - door)} to the wings' contract"
    kept_out = set(_contract("The core imports no wing")["forbidden_modules"])
    assert wings <= kept_out, f"add {sorted(wings - kept_out)} to the core's contract"
    private = set(
        _contract("No wing imports a private module of another wing")[
            "packages_with_private_modules"
        ]
    )
    assert wings <= private, f"add {sorted(wings - private)} to the private-modules contract"
