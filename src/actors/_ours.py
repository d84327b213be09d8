"""Make sure ``protocol`` and ``scheduler`` are Tadpole's own packages.

Tadpole's three top-level packages have plain names, and PyPI holds unrelated
packages called ``actors``, ``protocol`` and ``scheduler``. Installing one of
those can shadow ours (earlier on ``sys.path``) or overwrite its files in
``site-packages``. Without this check the runtime would fail later with an
obscure ``cannot import name ...``; with it, ``import actors`` fails at once
with one line naming the foreign module's path.

Each of Tadpole's packages carries the marker ``__tadpole__`` (its own name);
importing this module runs the check; ``actors/__init__.py`` imports it
first, before anything else imports the other two.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["MARKER", "check_ours"]

MARKER = "__tadpole__"
"""Attribute every Tadpole package defines, set to its own name."""

_HELP = (
    "a package of that name from another distribution shadows or replaced it; "
    "uninstall that distribution (or take its directory off sys.path), then "
    "reinstall Tadpole's distribution, tadpole-actors, from its source "
    "(pip install --force-reinstall /path/to/tadpole); "
    "see 'Installing' in Tadpole's README"
)


def _where(name: str, module: ModuleType | None) -> str:
    path = getattr(module, "__file__", None) if module is not None else None
    if path is None:
        spec = importlib.util.find_spec(name)
        path = spec.origin if spec is not None else None
    return str(path) if path is not None else "<unknown location>"


def check_ours(*names: str) -> None:
    """Import each of ``names`` and raise ImportError unless it is Tadpole's."""
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                if exc.name == name:
                    raise ImportError(
                        f"Tadpole's package {name!r} is missing: reinstall Tadpole's "
                        "distribution, tadpole-actors, from its source "
                        "(pip install --force-reinstall /path/to/tadpole)",
                        name=name,
                    ) from exc
                raise ImportError(
                    f"the package {name!r} at {_where(name, None)} failed to import ({exc}) "
                    f"and is not Tadpole's: {_HELP}",
                    name=name,
                ) from exc
            except Exception as exc:  # a foreign package may fail in any way on import
                raise ImportError(
                    f"the package {name!r} at {_where(name, None)} failed to import "
                    f"({type(exc).__name__}: {exc}) and is not Tadpole's: {_HELP}",
                    name=name,
                ) from exc
        if getattr(module, MARKER, None) != name:
            raise ImportError(
                f"the package {name!r} imported from {_where(name, module)} is not "
                f"Tadpole's {name}: {_HELP}",
                name=name,
                path=_where(name, module),
            )


check_ours("protocol", "scheduler")
