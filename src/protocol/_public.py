"""Public names say where they are public: ``protocol.Codec.__module__ == "protocol"``.

A package's ``__init__`` calls :func:`publish` after its imports, as trio does,
so that reprs, tracebacks, error descriptions (``RemoteFailure`` names an
exception by its module) and ``help()`` name a class or function by its public
package rather than by the private module that defines it.

msgspec Structs keep their defining module: msgspec evaluates their
annotations lazily, in the namespace of the module ``__module__`` names, so
the public package's namespace would not resolve them. The docs build calls
:func:`restore_origins` so that autodoc reads attribute docstrings from the
defining modules' sources.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["publish", "restore_origins"]

_published: list[tuple[type | object, str]] = []
"""Every (class or function, defining module) :func:`publish` renamed, for the docs."""


def publish(package: str, namespace: Mapping[str, object], names: Iterable[str]) -> None:
    """Set ``__module__`` to ``package`` on each class or function of ``names``
    defined in a private module of ``package`` (``package._x``, ``package._x._y``).

    Names defined in a public subpackage (``actors.supervision``) keep that
    package, which is public too; names from elsewhere, and msgspec Structs
    (see the module docstring), are left alone.
    """
    prefix = package + "."
    for name in names:
        value = namespace[name]
        if not (isinstance(value, type) or inspect.isfunction(value)):
            continue
        if hasattr(value, "__struct_fields__"):  # a msgspec Struct
            continue
        module = value.__module__
        if module.startswith(prefix) and all(
            part.startswith("_") for part in module[len(prefix) :].split(".")
        ):
            _published.append((value, module))
            value.__module__ = package


def restore_origins() -> None:
    """Give every published name its defining module back (for the docs build only)."""
    for value, module in _published:
        value.__module__ = module
