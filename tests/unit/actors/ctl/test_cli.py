"""The command line's parsing and its usage errors (nothing here dials a node)."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from actors.ctl import main
from actors.ctl._cli import _parser

ROOT = Path(__file__).resolve().parents[4]


def test_the_console_script_points_at_the_cli() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    module, _, attribute = config["project"]["scripts"]["tadpole-ctl"].partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "--node", "h:1", "status"],
        ["status", "--json", "--node", "h:1"],
        ["--node", "h:1", "status", "--json"],
    ],
)
def test_common_options_go_before_or_after_the_command(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    assert (args.command, args.json, args.node, args.timeout) == ("status", True, "h:1", 5.0)


def test_job_takes_an_id_and_tail_a_count() -> None:
    args = _parser().parse_args(["job", "j-1", "--trace"])
    assert (args.job_id, args.trace) == ("j-1", True)
    assert _parser().parse_args(["tail", "-n", "3"]).lines == 3
    top = _parser().parse_args(["top", "--once"])
    assert (top.once, top.iterations, top.interval, top.width) == (True, None, 1.0, 40)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "--node", "nowhere"], "--node expects HOST:PORT, got 'nowhere'"),
        (["status", "--node", "h:99999"], "--node expects HOST:PORT"),
        (["status", "--timeout", "0"], "--timeout must be > 0"),
        (["status", "--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
        (["status"], "no cluster secret"),
    ],
)
def test_usage_errors_are_one_line_and_status_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TADPOLE_SECRET", "TADPOLE_SECRET_FILE", "TADPOLE_CTL_NODE", "TADPOLE_TLS_CA"):
        monkeypatch.delenv(name, raising=False)
    if "--tls-cert" in argv:
        monkeypatch.setenv("TADPOLE_SECRET", "0f3c9a7d52e8b14c6a0d9e2f7b3c81a5")
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("tadpole-ctl: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_an_unknown_command_is_argparses_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
