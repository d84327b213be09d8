"""The installed package's version, as ``--version`` and ``status`` show it."""

from __future__ import annotations

from importlib import metadata

__all__ = ["package_version"]


def package_version() -> str:
    """``tadpole-actors``'s installed version (``unknown`` when run from a bare source tree)."""
    try:
        return metadata.version("tadpole-actors")
    except metadata.PackageNotFoundError:
        return "unknown"
