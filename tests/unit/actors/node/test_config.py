"""Node settings: flags override TADPOLE_* variables, which override the TOML file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from actors.node import ConfigError, load_config
from tests.helpers import OTHER_SECRET, SECRET

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    path = tmp_path / "node.toml"
    path.write_text(
        "[node]\n"
        'name = "file-node"\n'
        'listen = "127.0.0.1:7001"\n'
        'cluster = "file-cluster"\n'
        "heartbeat_interval = 3.0\n"
        'seeds = "127.0.0.1:9001,127.0.0.1:9002"\n'
        f'secret_file = "{secret}"\n'
    )
    return path


def test_the_config_file_alone_configures_a_node(config_file: Path) -> None:
    config = load_config(["--config", str(config_file)], environ={})
    assert config.name == "file-node"
    assert config.listen == ("127.0.0.1", 7001)
    assert config.cluster == "file-cluster"
    assert config.heartbeat_interval == 3.0
    assert config.seeds == (("127.0.0.1", 9001), ("127.0.0.1", 9002))
    assert config.secret == SECRET.encode()


def test_environment_overrides_the_file(config_file: Path) -> None:
    env = {"TADPOLE_CLUSTER": "env-cluster", "TADPOLE_HEARTBEAT_INTERVAL": "0.5"}
    config = load_config(["--config", str(config_file)], environ=env)
    assert config.cluster == "env-cluster"
    assert config.heartbeat_interval == 0.5
    assert config.name == "file-node"


def test_flags_override_the_environment_and_the_file(config_file: Path) -> None:
    env = {"TADPOLE_CLUSTER": "env-cluster", "TADPOLE_NAME": "env-node"}
    config = load_config(
        ["--config", str(config_file), "--cluster", "flag-cluster", "--listen", "127.0.0.1:7002"],
        environ=env,
    )
    assert config.cluster == "flag-cluster"
    assert config.listen == ("127.0.0.1", 7002)
    assert config.name == "env-node"


def test_the_config_file_can_come_from_the_environment(config_file: Path) -> None:
    config = load_config([], environ={"TADPOLE_CONFIG": str(config_file)})
    assert config.name == "file-node"


def test_secret_from_the_environment_beats_the_file(config_file: Path) -> None:
    config = load_config(["--config", str(config_file)], environ={"TADPOLE_SECRET": OTHER_SECRET})
    assert config.secret == OTHER_SECRET.encode()
    assert OTHER_SECRET not in repr(config)


def test_a_bad_value_names_its_source(config_file: Path) -> None:
    with pytest.raises(ConfigError, match="TADPOLE_HEARTBEAT_INTERVAL"):
        load_config(["--config", str(config_file)], environ={"TADPOLE_HEARTBEAT_INTERVAL": "-1"})
    with pytest.raises(ConfigError, match="--listen"):
        load_config(["--config", str(config_file), "--listen", "nowhere"], environ={})


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[node]\nname = "n"\nlisten_port = 7000\n')
    with pytest.raises(ConfigError, match=r"unknown keys .*listen_port"):
        load_config(["--config", str(path)], environ={"TADPOLE_SECRET": SECRET})


def test_a_node_without_name_or_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="name is required"):
        load_config([], environ={"TADPOLE_SECRET": SECRET})
    with pytest.raises(ConfigError, match="no cluster secret"):
        load_config(["--name", "n"], environ={})


def test_help_lists_every_setting_with_its_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_config(["--help"], environ={})
    text = capsys.readouterr().out
    for flag in ("--name", "--listen", "--seeds", "--cluster", "--secret-file", "--data-dir"):
        assert flag in text
    for flag in ("--app", "--log-format", "--config"):
        assert flag in text
    assert "TADPOLE_LISTEN" in text
