"""Sphinx configuration for Tadpole's documentation (MyST Markdown, furo)."""

from __future__ import annotations

import importlib

import protocol._public
import scheduler._public

# Public names carry their public package as __module__ (protocol._public);
# autodoc reads attribute docstrings from the module __module__ names, so the
# docs are built from the defining modules, as before that renaming: import
# every package (each publishes its names), then give the names their origins.
for _package in (
    "actors",
    "actors.cluster",
    "actors.ledger",
    "actors.node",
    "actors.remote",
    "actors.roles",
    "actors.supervision",
    "actors.testing",
    "protocol",
    "scheduler",
):
    importlib.import_module(_package)
protocol._public.restore_origins()
scheduler._public.restore_origins()

project = "Tadpole"
author = "Tadpole developers"
copyright = "2026, Tadpole developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = "Tadpole"
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False
intersphinx_mapping: dict[str, tuple[str, None]] = {}
suppress_warnings = ["myst.header"]
