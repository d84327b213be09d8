"""``publish``: which names get their public package as ``__module__``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from protocol._public import publish

if TYPE_CHECKING:
    from collections.abc import Callable


def _class(module: str) -> type:
    return type("Thing", (), {"__module__": module})


def _function(module: str) -> Callable[[], None]:
    def thing() -> None:
        return None

    thing.__module__ = module
    return thing


def test_a_name_from_a_private_module_of_the_package_is_renamed() -> None:
    cls, fn = _class("pkg._thing"), _function("pkg._a._b")
    publish("pkg", {"Thing": cls, "thing": fn}, ["Thing", "thing"])
    assert cls.__module__ == "pkg"
    assert fn.__module__ == "pkg"


def test_a_public_module_below_a_package_claims_a_private_name_above_it() -> None:
    cls = _class("pkg._cell")
    publish("pkg.lowlevel", {"Cell": cls}, ["Cell"])
    assert cls.__module__ == "pkg.lowlevel"


def test_the_first_package_to_publish_a_name_keeps_it() -> None:
    cls = _class("pkg._clock")
    publish("pkg", {"Clock": cls}, ["Clock"])
    publish("pkg.lowlevel", {"Clock": cls}, ["Clock"])
    assert cls.__module__ == "pkg"


def test_names_from_public_modules_and_other_packages_are_left_alone() -> None:
    public, other, sibling = _class("pkg.sub"), _class("elsewhere._x"), _class("pkg.sub._x")
    namespace: dict[str, Any] = {"A": public, "B": other, "C": sibling, "D": 3}
    publish("pkg", namespace, ["A", "B", "C", "D"])
    assert public.__module__ == "pkg.sub"
    assert other.__module__ == "elsewhere._x"
    assert sibling.__module__ == "pkg.sub._x"  # pkg.sub publishes it, not pkg


def test_msgspec_structs_keep_their_module() -> None:
    class Record(msgspec.Struct):
        n: int

    Record.__module__ = "pkg._records"
    publish("pkg", {"Record": Record}, ["Record"])
    assert Record.__module__ == "pkg._records"
