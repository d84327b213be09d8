"""Every setting is validated at start-up, from a flag, a variable or the config file alike.

A bad value ends ``main`` with exit status 2 and one line on stderr naming the
setting, where the value came from and the value, before anything starts (the
node's ``run_node`` is never called). The same fields are checked where the
library's config structs are built in code.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import ActorSystem
from actors.cluster import ClusterConfig
from actors.node import ConfigError, NodeConfig, load_config
from actors.remote import RemoteConfig, RemoteNode, parse_address
from protocol import Handshake
from tests.helpers import SECRET

if TYPE_CHECKING:
    from pathlib import Path

# (setting, bad value): every setting, each kind of mistake. "{file}" is an existing
# regular file, "{missing}" a path where nothing is.
BAD: list[tuple[str, str]] = [
    ("name", ""),
    ("name", "n" * 256),
    ("name", "two words"),
    ("name", "a@b"),
    ("name", "a/b"),
    ("cluster", ""),
    ("cluster", "c" * 256),
    ("cluster", "line\nbreak"),
    ("listen", "nowhere"),
    ("listen", "127.0.0.1:65536"),
    ("listen", "127.0.0.1:-1"),
    ("listen", "127.0.0.1:"),
    ("listen", "[not-an-ip]:7000"),
    ("listen", "bad host:7000"),
    ("seeds", "127.0.0.1:0"),
    ("seeds", "127.0.0.1:7001,,127.0.0.1:7002"),
    ("seeds", "127.0.0.1"),
    ("seeds", "127.0.0.1:7001,127.0.0.1:99999"),
    ("advertise_host", ""),
    ("advertise_host", "has space"),
    ("data_dir", "{file}"),
    ("data_dir", "{file}/below-a-file"),
    ("app", "no_colon"),
    ("app", "module:"),
    ("app", "bad module:run"),
    ("log_format", "xml"),
    ("log_level", "loud"),
    ("tls_cert", "{missing}"),
    ("tls_key", "{missing}"),
    ("tls_ca", "{missing}"),
    ("seed", "1.5"),
    ("seed", "seven"),
]
for _key in ("heartbeat_interval", "phi_threshold", "down_after", "drain_timeout"):
    BAD += [(_key, v) for v in ("nan", "inf", "-inf", "0", "-1", "soon", "")]
BAD += [("handshake_timeout", v) for v in ("nan", "inf", "0", "-1", "1e400", "")]

SOURCES = ("flag", "env", "file")


class Harness:
    """Runs ``actors.node.main`` in-process with a stubbed ``run_node``."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import actors.node._main as node_main

        self.tmp_path = tmp_path
        self.started: list[NodeConfig] = []
        self.monkeypatch = monkeypatch

        async def fake_run_node(config: NodeConfig, **_: Any) -> None:
            self.started.append(config)

        monkeypatch.setattr(node_main, "run_node", fake_run_node)
        monkeypatch.setattr(node_main, "configure_logging", lambda *a, **k: None)
        for key in [k for k in os.environ if k.startswith("TADPOLE_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("TADPOLE_SECRET", SECRET)
        (tmp_path / "afile").write_text("x")

    def value(self, text: str) -> str:
        return text.format(file=self.tmp_path / "afile", missing=self.tmp_path / "missing")

    def run(self, key: str, raw: Any, source: str) -> tuple[int, str]:
        """``main`` with ``key`` set to ``raw`` from ``source``; returns (status, label)."""
        from actors.node import main

        argv: list[str] = [] if key == "name" else ["--name", "node-1"]
        flag, variable = "--" + key.replace("_", "-"), "TADPOLE_" + key.upper()
        if source == "flag":
            argv += [f"{flag}={raw}"]
            label = flag
        elif source == "env":
            self.monkeypatch.setenv(variable, raw)
            label = variable
        else:
            path = self.tmp_path / "node.toml"
            literal = raw if not isinstance(raw, str) else json.dumps(raw)
            path.write_text(f"[node]\n{key} = {literal}\n")
            argv += ["--config", str(path)]
            label = f"{key} in {path}"
        return main(argv), label


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(tmp_path, monkeypatch)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("python -m actors.node: error: ")
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("key", "bad"), BAD)
def test_a_bad_setting_stops_the_node_before_it_starts(
    harness: Harness, capsys: pytest.CaptureFixture[str], key: str, bad: str, source: str
) -> None:
    value = harness.value(bad)
    status, label = harness.run(key, value, source)
    assert status == 2
    assert harness.started == []
    line = one_error_line(capsys)
    assert key in line
    assert label in line
    shown = repr(value)
    assert shown in line or shown[:40] in line


# TOML values that are the wrong type (or non-finite floats that TOML writes bare).
FILE_ONLY_BAD: list[tuple[str, str]] = [
    ("name", "5"),
    ("cluster", "true"),
    ("listen", "7350"),
    ("seeds", "7001"),
    ("seeds", "[7001]"),
    ("heartbeat_interval", "nan"),
    ("heartbeat_interval", "inf"),
    ("heartbeat_interval", "true"),
    ("handshake_timeout", "nan"),
    ("handshake_timeout", "+inf"),
    ("down_after", "-0.5"),
    ("seed", "1.5"),
    ("seed", "false"),
    ("log_level", "1"),
    ("data_dir", "[]"),
]


@pytest.mark.parametrize(("key", "literal"), FILE_ONLY_BAD)
def test_a_config_file_value_of_the_wrong_kind_is_refused(
    harness: Harness, capsys: pytest.CaptureFixture[str], key: str, literal: str
) -> None:
    path = harness.tmp_path / "node.toml"
    path.write_text(f"{key} = {literal}\n")
    argv = ["--config", str(path)] + ([] if key == "name" else ["--name", "node-1"])
    from actors.node import main

    assert main(argv) == 2
    assert harness.started == []
    line = one_error_line(capsys)
    assert f"invalid {key} " in line
    assert f"{key} in {path}" in line


GOOD: list[tuple[str, str, Any]] = [
    ("name", "node-7", "node-7"),
    ("name", "n" * 255, "n" * 255),
    ("cluster", "c" * 255, "c" * 255),
    ("cluster", "blue swarm", "blue swarm"),
    ("listen", "127.0.0.1:0", ("127.0.0.1", 0)),
    ("listen", "[::1]:7350", ("::1", 7350)),
    ("listen", "localhost:65535", ("localhost", 65535)),
    (
        "seeds",
        "127.0.0.1:7001,node-b.example:7002",
        (("127.0.0.1", 7001), ("node-b.example", 7002)),
    ),
    ("seeds", "", ()),
    ("advertise_host", "10.0.0.1", "10.0.0.1"),
    ("app", "tests.helpers:Echo", "tests.helpers:Echo"),
    ("log_format", "JSON", "json"),
    ("log_level", "warning", "warning"),
    ("heartbeat_interval", "0.25", 0.25),
    ("phi_threshold", "12", 12.0),
    ("down_after", "3", 3.0),
    ("drain_timeout", "0.5", 0.5),
    ("handshake_timeout", "1e-3", 0.001),
    ("seed", "42", 42),
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("key", "raw", "expected"), GOOD)
def test_a_good_setting_reaches_the_node(
    harness: Harness, key: str, raw: str, expected: Any, source: str
) -> None:
    status, _ = harness.run(key, raw, source)
    assert status == 0
    assert getattr(harness.started[0], key) == expected


def test_a_data_dir_that_can_be_created_is_accepted(harness: Harness, tmp_path: Path) -> None:
    status, _ = harness.run("data_dir", str(tmp_path / "new" / "deeper"), "env")
    assert status == 0
    assert harness.started[0].data_dir == tmp_path / "new" / "deeper"


def test_tls_ca_alone_is_refused(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = harness.run("tls_ca", harness.value("{file}"), "flag")
    assert status == 2
    assert "--tls-ca needs" in one_error_line(capsys)


@given(st.text(max_size=300))
def test_every_node_name_the_config_accepts_works_in_a_handshake_and_an_address(
    name: str,
) -> None:
    try:
        config = load_config([f"--name={name}"], environ={"TADPOLE_SECRET": SECRET})
    except ConfigError:
        return
    except SystemExit:  # argparse: a value it cannot take as an argument
        return
    assert config.name == name
    Handshake.acceptor(node=name, cluster=config.cluster, secret=config.secret)
    assert parse_address(f"tadpole://{name}@127.0.0.1:7350/user/x").node == name


@given(st.text(max_size=300))
def test_every_cluster_name_the_config_accepts_works_in_a_handshake(cluster: str) -> None:
    try:
        config = load_config(
            ["--name", "n", f"--cluster={cluster}"], environ={"TADPOLE_SECRET": SECRET}
        )
    except (ConfigError, SystemExit):
        return
    Handshake.initiator(node="n", cluster=config.cluster, secret=config.secret)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_duration_the_config_accepts_is_finite_and_positive(value: float) -> None:
    try:
        config = load_config(
            ["--name", "n", f"--handshake-timeout={value!r}", f"--heartbeat-interval={value!r}"],
            environ={"TADPOLE_SECRET": SECRET},
        )
    except ConfigError:
        assert not (math.isfinite(value) and value > 0)
        return
    assert math.isfinite(config.handshake_timeout)
    assert config.handshake_timeout > 0
    assert RemoteConfig(handshake_timeout=config.handshake_timeout)
    assert ClusterConfig(heartbeat_interval=config.heartbeat_interval)


# -- the library's own config structs, built in code --------------------------

BAD_REMOTE: list[tuple[str, Any]] = [
    *[(f, v) for f in ("handshake_timeout", "connect_timeout", "flush_timeout")
      for v in (math.nan, math.inf, 0.0, -1.0, "5", True)],
    *[(f, v) for f in ("max_frame_size", "send_buffer", "batch_bytes", "max_inflight_asks")
      for v in (0, -1, 1.5, math.nan, "10", True)],
    ("overflow", "drop"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), BAD_REMOTE)
def test_remote_config_refuses_a_bad_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"RemoteConfig\.{field} is {re.escape(repr(value))}"):
        RemoteConfig(**{field: value})


BAD_CLUSTER: list[tuple[str, Any]] = [
    *[(f, v) for f in ("heartbeat_interval", "phi_threshold", "min_std_deviation",
                       "join_timeout", "join_retry", "leave_timeout")
      for v in (math.nan, math.inf, 0.0, -1.0, "1", None)],
    *[(f, v) for f in ("acceptable_pause", "down_after") for v in (math.nan, math.inf, -0.1)],
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), BAD_CLUSTER)
def test_cluster_config_refuses_a_bad_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"ClusterConfig\.{field} is "):
        ClusterConfig(**{field: value})


def test_the_config_structs_accept_their_defaults_and_zero_where_it_means_something() -> None:
    RemoteConfig()
    ClusterConfig()
    ClusterConfig(down_after=0.0, acceptable_pause=0.0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "cluster"), [("n" * 256, "c"), ("", "c"), ("n", ""), ("n", "c" * 256), ("a b", "c")]
)
async def test_remote_node_refuses_names_the_handshake_cannot_carry(
    name: str, cluster: str
) -> None:
    async with ActorSystem("sys") as system:
        with pytest.raises(ValueError, match="name"):
            RemoteNode(system, name=name, cluster=cluster, secret=SECRET)
