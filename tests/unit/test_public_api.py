"""Each package's __all__ is honest: every name exists, is public, and is listed once."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "package",
    [
        "actors",
        "actors.lowlevel",
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


@pytest.mark.parametrize("package", ["actors", "actors.lowlevel", "protocol"])
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


PLUMBING = (
    "attach_remote",
    "detach_remote",
    "register",
    "unregister",
    "cell_at",
    "create_actor_task",
    "spawn_background",
    "delivery_observer",
    "check_running",
    "correlation_ids",
    "logs_info",
)
"""What ``ActorSystem`` once offered its cells and wings among its public members."""


def test_the_actor_system_keeps_its_plumbing_private() -> None:
    from actors import ActorSystem

    system = ActorSystem("plain")
    leaked = [name for name in PLUMBING if hasattr(system, name)]
    assert not leaked, f"ActorSystem offers runtime plumbing publicly: {leaked}"


def test_the_low_level_door_offers_what_the_wings_need() -> None:
    from actors import lowlevel

    needed = {"cell_at", "cell_of", "attach_remote", "detach_remote", "spawn_background"}
    needed |= {"check_running", "next_correlation_id", "PendingAsk", "ActorCell"}
    needed |= {"add_delivery_filter", "delivery_filters", "filter_statistics"}
    assert needed <= set(lowlevel.__all__)
