"""Each package's __all__ is honest: every name exists, is public, and is listed once."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "package",
    [
        "actors",
        "actors.supervision",
        "actors.testing",
        "protocol",
        "scheduler",
        "actors.ledger",
        "actors.roles",
        "actors.remote",
        "actors.cluster",
        "actors.node",
        "actors.roles.territories",
    ],
)
def test_all_names_exist_and_are_unique(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert len(names) == len(set(names)), f"duplicates in {package}.__all__"
    for name in names:
        assert hasattr(module, name), f"{package}.__all__ lists missing {name!r}"
        assert not name.startswith("_")


@pytest.mark.parametrize("package", ["actors", "protocol"])
def test_every_public_class_of_the_package_is_exported(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and isinstance(value, type)
        and value.__module__.startswith(package)
    }
    assert public <= exported
