"""``lifecycle_log``: a switch on the command line, a boolean everywhere else.

And the processor behind it: per-actor lifecycle events are dropped unless
it is on, whatever ``--log-level`` lets through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import structlog

from actors.node import ConfigError, load_config
from actors.node._run import LIFECYCLE_EVENTS, _drop_lifecycle
from tests.helpers import SECRET

if TYPE_CHECKING:
    from pathlib import Path

ENV = {"TADPOLE_SECRET": SECRET}


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, False),
        (["--lifecycle-log"], {}, True),
        (["--lifecycle-log=false"], {"TADPOLE_LIFECYCLE_LOG": "1"}, False),
        ([], {"TADPOLE_LIFECYCLE_LOG": "yes"}, True),
        ([], {"TADPOLE_LIFECYCLE_LOG": "off"}, False),
    ],
)
def test_the_switch_from_flag_and_environment(
    argv: list[str], env: dict[str, str], expected: bool
) -> None:
    config = load_config(["--name", "n", *argv], environ={**ENV, **env})
    assert config.lifecycle_log is expected


def test_the_config_file_takes_a_toml_boolean(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text('name = "n"\nlifecycle_log = true\n')
    assert load_config(["--config", str(path)], environ=ENV).lifecycle_log is True


@pytest.mark.parametrize(("value", "shown"), [("maybe", "'maybe'"), ("2", "'2'")])
def test_anything_else_is_refused_in_one_line(value: str, shown: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid lifecycle_log {shown} from --lifecycle-log"):
        load_config(["--name", "n", f"--lifecycle-log={value}"], environ=ENV)


def test_a_number_in_the_config_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text('name = "n"\nlifecycle_log = 1\n')
    with pytest.raises(ConfigError, match="expected true or false, got int"):
        load_config(["--config", str(path)], environ=ENV)


@pytest.mark.parametrize("event", sorted(LIFECYCLE_EVENTS))
def test_lifecycle_events_below_warning_are_dropped(event: str) -> None:
    with pytest.raises(structlog.DropEvent):
        _drop_lifecycle(None, "info", {"event": event})
    kept = {"event": event, "actor": "/user/a"}
    assert _drop_lifecycle(None, "warning", kept) is kept
    other = {"event": "member_up"}
    assert _drop_lifecycle(None, "info", other) is other
