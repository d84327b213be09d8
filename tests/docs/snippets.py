"""Extract the ```python blocks of a Markdown page into one runnable module.

The convention (documented in docs/index.md, "The code on these pages runs"):

- Every ```python block of ``README.md`` and ``docs/*.md`` runs in the test
  suite (``tests/docs/test_snippets.py``) and is type-checked with
  ``mypy --strict``.
- The blocks of one page run **in sequence, as one module**: a later block may
  use what an earlier block of the same page defined, and nothing else. Each
  page runs in a fresh interpreter, in an empty temporary directory.
- A block that cannot run (a fragment of a larger program, shown for its shape)
  is marked on the line right before its fence with an HTML comment giving the
  reason, ``<!-- docs: not run: the reason -->``; Markdown renders nothing for
  it. Keep these rare: shell commands belong in ```sh blocks, diagrams and
  output in ```text blocks, neither of which runs.

The module keeps every block's lines at their line numbers in the page (the
lines between blocks are blank), so a traceback or a mypy error points at the
page's own line. Run one page by hand with
``python -m tests.docs.snippets docs/tutorial.md``.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SKIP_MARK", "Block", "blocks", "module_source", "pages"]

ROOT = Path(__file__).resolve().parents[2]

SKIP_MARK = re.compile(r"^\s*<!--\s*docs:\s*not run:\s*(?P<reason>\S.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    line: int
    """Line number (1-based) of the block's first code line."""
    language: str
    code: str
    skip_reason: str | None


class SnippetSyntaxError(ValueError):
    """A page's fences or markers are wrong (unclosed fence, empty skip reason)."""


def pages() -> list[Path]:
    """The pages whose python blocks must run: README.md and docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order."""
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        language = info.split()[0] if info else ""
        skip = None
        previous = lines[index - 1] if index else ""
        marker = SKIP_MARK.match(previous)
        if marker is not None:
            skip = marker["reason"]
        elif "docs:" in previous and "not run" in previous:
            raise SnippetSyntaxError(
                f"{name}:{index}: a not-run marker needs a reason: "
                "<!-- docs: not run: the reason -->"
            )
        start = index + 1
        end = start
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if end == len(lines):
            raise SnippetSyntaxError(f"{name}:{index + 1}: the fence opened here is never closed")
        found.append(Block(name, start + 1, language, "\n".join(lines[start:end]), skip))
        index = end + 1
    return found


def python_blocks(path: Path) -> list[Block]:
    """The page's ```python blocks (``py`` and ``python3`` count too)."""
    return [b for b in blocks(path) if b.language in ("python", "py", "python3")]


def module_source(path: Path) -> str:
    """The page's runnable python blocks as one module, each at its own line numbers."""
    out: list[str] = []
    for block in python_blocks(path):
        if block.skip_reason is not None:
            continue
        out.extend([""] * (block.line - 1 - len(out)))
        out.extend(block.code.splitlines())
    return "\n".join(out) + "\n"


def run(path: Path) -> None:
    """Run the page's blocks as the module ``__main__``, reporting lines of the page."""
    source = module_source(path)
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    code = compile(source, name, "exec")
    # A real module, registered as __main__, so that msgspec and typing find the
    # page's classes by their module (forward references, message tags).
    module = types.ModuleType("__main__")
    module.__file__ = name
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        target = Path(argument)
        run(target if target.is_absolute() else (ROOT / target).resolve())
