"""The remote, cluster and node packages keep their __all__ honest."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["actors.remote", "actors.cluster", "actors.node"])
def test_all_names_exist_are_public_and_cover_every_public_class(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(module, name)
        assert not name.startswith("_")
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and isinstance(value, type)
        and value.__module__.startswith(package)
    }
    assert public <= set(names)
