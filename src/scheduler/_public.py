"""Public names say where they are public: ``protocol.Codec.__module__ == "protocol"``.

A copy of ``protocol._public``: ``scheduler`` uses the standard library only.

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
    still named by a private module of ``package`` or of a package above it
    (``actors._cell`` for ``actors.lowlevel``, ``actors.remote._node`` for
    ``actors.remote``).

    The first package to publish a name claims it: ``actors`` imports
    ``actors.supervision`` first, so ``Backoff`` stays in the public
    ``actors.supervision``. Names from a public module, from another package,
    and msgspec Structs (see the module docstring) are left alone.
    """
    for name in names:
        value = namespace[name]
        if not (isinstance(value, type) or inspect.isfunction(value)):
            continue
        if hasattr(value, "__struct_fields__"):  # a msgspec Struct
            continue
        module = value.__module__
        parts = module.split(".")
        private = next((i for i, part in enumerate(parts) if part.startswith("_")), None)
        if private is None:
            continue
        home = ".".join(parts[:private])
        if home and (package == home or package.startswith(home + ".")):
            _published.append((value, module))
            value.__module__ = package


def restore_origins() -> None:
    """Give every published name its defining module back (for the docs build only)."""
    for value, module in _published:
        value.__module__ = module
