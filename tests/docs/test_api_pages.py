"""The reference pages document every public name and none of the runtime's seams.

Builds the docs with Sphinx's text builder once, then reads the pages: each
name in a package's ``__all__`` must be documented on its page, the actor
class attributes that configure an actor must be there, and the methods the
runtime offers only to its own parts must not.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PAGES = {
    "actors": "api",
    "actors.lowlevel": "api",
    "actors.ops": "operations",
    "protocol": "protocol",
    "scheduler": "scheduler",
}
"""Where each package's reference lives (docs/<page>.md)."""

INTERNAL = (
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
"""What ``ActorSystem`` once offered its cells and wings (now private, or in actors.lowlevel)."""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sphinx")
    out = tmp_path_factory.mktemp("docs-text")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "text", str(ROOT / "docs"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"sphinx failed:\n{result.stderr[-4000:]}"
    return out


def _page(built: Path, package: str) -> str:
    return (built / f"{PAGES[package]}.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("package", list(PAGES))
def test_every_public_name_is_documented_on_its_page(built: Path, package: str) -> None:
    text = _page(built, package)
    module = importlib.import_module(package)
    missing = [
        name
        for name in module.__all__
        if not re.search(rf"^(class |exception )?{package}\.{re.escape(name)}\b", text, re.M)
    ]
    assert not missing, f"docs/{PAGES[package]}.md does not document {package}.{missing}"


def _members(text: str, cls: str) -> set[str]:
    """The member names documented under ``class actors.<cls>``."""
    start = re.search(rf"^class actors\.{cls}\b.*$", text, re.M)
    assert start is not None, f"class actors.{cls} is not on the API page"
    end = re.search(r"^(class|exception) ", text[start.end() :], re.M)
    section = text[start.end() : start.end() + end.start() if end else len(text)]
    pattern = r"^   (?:(?:async|abstractmethod|property|classmethod|static) )*(\w+)\b"
    return set(re.findall(pattern, section, re.M))


def test_the_actor_class_attributes_are_documented(built: Path) -> None:
    members = _members(_page(built, "actors"), "Actor")
    assert {"supervisor_flags", "mailbox", "trap_exits", "record_deliveries"} <= members


def test_the_actor_system_shows_its_public_members_only(built: Path) -> None:
    members = _members(_page(built, "actors"), "ActorSystem")
    assert {"spawn", "stop", "lookup", "ref", "virtual", "topics", "dead_letters"} <= members
    assert {"clock", "random", "statistics", "shutdown"} <= members
    leaked = members & set(INTERNAL)
    assert not leaked, f"docs/api.md lists the runtime's internal members {sorted(leaked)}"


def test_the_context_shows_every_public_method(built: Path) -> None:
    members = _members(_page(built, "actors"), "ActorContext")
    assert {"spawn", "stop", "watch", "unwatch", "link", "unlink", "timers"} <= members
