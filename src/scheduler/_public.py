"""Public names say where they are public: ``protocol.Message.__module__ == "protocol"``.

A copy of ``protocol._public``: ``scheduler`` uses the standard library only.

A package's ``__init__`` calls :func:`publish` after its imports, as trio does,
so that reprs, tracebacks, error descriptions and the docs name a type by its
public package rather than by the private module that defines it.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["publish"]


def publish(package: str, namespace: Mapping[str, object], names: Iterable[str]) -> None:
    """Set ``__module__`` to ``package`` on each class or function of ``names``
    defined in a private module of ``package`` (``package._x``, ``package._x._y``).

    Names defined in a public subpackage (``actors.supervision``) keep that
    package, which is public too; names from elsewhere are left alone.
    """
    prefix = package + "."
    for name in names:
        value = namespace[name]
        if not (isinstance(value, type) or inspect.isfunction(value)):
            continue
        module = value.__module__
        if module.startswith(prefix) and all(
            part.startswith("_") for part in module[len(prefix) :].split(".")
        ):
            value.__module__ = package
