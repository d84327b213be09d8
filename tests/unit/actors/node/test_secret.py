"""The cluster secret: 128 bits or refused, one key whatever its source, made by gen-secret.

The rule (``protocol.cluster_key``): surrounding ASCII whitespace stripped; at
least 32 hex digits, 22 base64 characters or 16 bytes otherwise; at least 8
different byte values.
"""

from __future__ import annotations

import os
import secrets
import stat
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

import actors.node._main as node_main
from actors import ActorSystem
from actors.node import ConfigError, NodeConfig, gen_secret, load_config, main, run_node
from actors.remote import RemoteNode
from protocol import MIN_SECRET_BITS, Handshake, WeakSecret, cluster_key, secret_bits
from tests.helpers import SECRET, WAIT, Echo, Ping

if TYPE_CHECKING:
    from pathlib import Path

WEAK: list[bytes | str] = [
    "k3y",
    b"",
    " \n\t ",
    "a" * 64,  # one character repeated
    "ab" * 32,  # a repeated pattern
    "k3y" * 20,
    "passwordpassword",  # 16 characters of the base64 alphabet: 96 bits
    "0123456789abcdef0123456789abcde",  # 31 hex digits: 124 bits
    "Zm9vYmFyYmF6cXV4cXV1e==",  # 21 base64 characters and padding: 126 bits
    bytes(range(128, 143)),  # 15 bytes outside any text alphabet: 120 bits
]

STRONG: list[bytes | str] = [
    SECRET,
    secrets.token_hex(16),  # 32 hex digits
    secrets.token_urlsafe(16),  # 22 base64url characters
    bytes(range(128, 144)),  # 16 bytes
    "correct horse battery staple",
    b"\n" + secrets.token_hex(32).encode() + b"\r\n",
]


@pytest.mark.parametrize("secret", WEAK, ids=repr)
def test_a_weak_secret_is_refused_with_how_to_make_one(secret: bytes | str) -> None:
    with pytest.raises(WeakSecret, match="gen-secret") as info:
        cluster_key(secret)
    text = secret if isinstance(secret, str) else secret.decode("latin-1")
    if text.strip():
        assert text.strip() not in str(info.value)


@pytest.mark.parametrize("secret", STRONG, ids=repr)
def test_a_strong_secret_is_its_stripped_bytes(secret: bytes | str) -> None:
    raw = secret.encode() if isinstance(secret, str) else secret
    assert cluster_key(secret) == raw.strip()


@given(st.binary(min_size=16, max_size=64), st.sampled_from([b"", b" ", b"\n", b"\r\n", b"\t "]))
def test_the_key_is_the_same_with_or_without_surrounding_whitespace(
    body: bytes, padding: bytes
) -> None:
    try:
        key = cluster_key(body)
    except WeakSecret:
        assert secret_bits(body.strip()) < MIN_SECRET_BITS or len(set(body.strip())) < 8
        return
    assert key == body.strip()
    assert cluster_key(padding + body + padding) == key
    assert cluster_key(key) == key
    assert cluster_key(key.decode("latin-1").encode("latin-1")) == key


@given(st.binary(min_size=16, max_size=64).filter(lambda b: len(set(b.strip())) >= 8))
def test_sixteen_bytes_of_any_kind_with_eight_distinct_values_are_enough(body: bytes) -> None:
    if len(body.strip()) >= 16:
        assert cluster_key(body) == body.strip()


@pytest.mark.anyio
@pytest.mark.parametrize("secret", ["k3y", b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])
async def test_remote_node_refuses_a_weak_secret(secret: bytes | str) -> None:
    async with ActorSystem("sys") as system:
        with pytest.raises(WeakSecret, match="gen-secret"):
            RemoteNode(system, secret=secret)


# -- the node's sources -------------------------------------------------------


def sources(tmp_path: Path, secret: str) -> list[tuple[list[str], dict[str, str], str]]:
    """(argv, environ, how the error names the source) for each way to give a secret."""
    path = tmp_path / "secret"
    path.write_text(secret + "\n")
    config = tmp_path / "node.toml"
    config.write_text(f'secret_file = "{path}"\n')
    return [
        (["--secret-file", str(path)], {}, "from --secret-file"),
        ([], {"TADPOLE_SECRET": secret}, "from TADPOLE_SECRET"),
        ([], {"TADPOLE_SECRET_FILE": str(path)}, "from TADPOLE_SECRET_FILE"),
        (["--config", str(config)], {}, f"from secret_file in {config}"),
    ]


@pytest.mark.parametrize("source", range(4))
@pytest.mark.parametrize("weak", ["k3y", "s" * 40, "0123456789abcdef"])
def test_the_node_refuses_a_weak_secret_from_every_source(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: int,
    weak: str,
) -> None:
    argv, env, label = sources(tmp_path, weak)[source]
    started: list[NodeConfig] = []

    async def fake_run_node(config: NodeConfig, **_: Any) -> None:
        started.append(config)

    monkeypatch.setattr(node_main, "run_node", fake_run_node)
    monkeypatch.setattr(node_main, "configure_logging", lambda *a, **k: None)
    for key in [k for k in os.environ if k.startswith("TADPOLE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["--name", "n", *argv]) == 2
    assert started == []
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert label in line
    assert "too weak" in line
    assert "python -m actors.node gen-secret PATH" in line
    assert weak not in line.split(" from ", 1)[1]


@pytest.mark.parametrize("source", range(4))
def test_every_source_gives_the_same_key(tmp_path: Path, source: int) -> None:
    argv, env, _ = sources(tmp_path, SECRET)[source]
    assert load_config(["--name", "n", *argv], environ=env).secret == SECRET.encode()


@pytest.mark.parametrize("padded", [SECRET + "\n", f"  {SECRET}\r\n", f"\t{SECRET} "])
def test_the_environment_secret_is_stripped_like_the_file(tmp_path: Path, padded: str) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    from_file = load_config(["--name", "a", "--secret-file", str(path)], environ={})
    from_env = load_config(["--name", "b"], environ={"TADPOLE_SECRET": padded})
    assert from_env.secret == from_file.secret == SECRET.encode()


async def _ask_across(a: RemoteNode, b: RemoteNode) -> None:
    await b.system.spawn(Echo, name="echo")
    reply = await a.ref(f"{b.address}/user/echo").ask(Ping(3), timeout=WAIT)
    assert reply == Ping(3)


@pytest.mark.anyio
async def test_a_file_with_a_newline_and_the_variable_interoperate_in_a_handshake(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    from_file = load_config(["--name", "a", "--secret-file", str(path)], environ={})
    # As `TADPOLE_SECRET="$(cat secret; echo)"` or a secret mounted from a file would give it.
    from_env = load_config(["--name", "b"], environ={"TADPOLE_SECRET": SECRET + "\n"})
    async with (
        ActorSystem("a") as sa,
        ActorSystem("b") as sb,
        RemoteNode(sa, name="a", secret=from_file.secret) as a,
        RemoteNode(sb, name="b", secret=from_env.secret) as b,
    ):
        await _ask_across(a, b)
        await _ask_across(b, a)


@pytest.mark.anyio
async def test_code_that_reads_the_file_unstripped_interoperates_with_the_node(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    from_env = load_config(["--name", "b"], environ={"TADPOLE_SECRET": SECRET})
    async with (
        ActorSystem("a") as sa,
        ActorSystem("b") as sb,
        RemoteNode(sa, name="a", secret=path.read_bytes()) as a,
        RemoteNode(sb, name="b", secret=from_env.secret) as b,
    ):
        await _ask_across(a, b)


def test_the_handshake_key_ignores_surrounding_whitespace() -> None:
    initiator = Handshake.initiator(node="a", cluster="c", secret=SECRET.encode() + b"\n")
    acceptor = Handshake.acceptor(node="b", cluster="c", secret=b" " + SECRET.encode())
    to_acceptor = initiator.data_to_send()
    while not (initiator.established and acceptor.established):
        for payload in to_acceptor:
            acceptor.receive(payload)
        to_initiator = acceptor.data_to_send()
        for payload in to_initiator:
            initiator.receive(payload)
        to_acceptor = initiator.data_to_send()
        assert to_acceptor or initiator.established
    assert acceptor.peer_node == "a"


# -- gen-secret ---------------------------------------------------------------


def test_gen_secret_writes_a_fresh_strong_secret_only_the_owner_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    old = os.umask(0)  # even with a permissive umask
    try:
        assert main(["gen-secret", str(first)]) == 0
    finally:
        os.umask(old)
    gen_secret(second)
    assert "wrote a new cluster secret" in capsys.readouterr().err
    for path in (first, second):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        key = load_config(["--name", "n", "--secret-file", str(path)], environ={}).secret
        assert secret_bits(key) >= 256
    assert first.read_bytes() != second.read_bytes()


def test_gen_secret_never_overwrites_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "secret"
    path.write_text("keep me\n")
    assert main(["gen-secret", str(path)]) == 1
    assert path.read_text() == "keep me\n"
    [line] = capsys.readouterr().err.splitlines()
    assert "exists" in line
    assert str(path) in line


@pytest.mark.parametrize("argv", [["gen-secret"], ["gen-secret", "a", "b"], ["gen-secret", "-x"]])
def test_gen_secret_needs_one_path(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_tells_how_to_make_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "gen-secret PATH" in capsys.readouterr().out


def test_a_missing_secret_says_how_to_make_one() -> None:
    with pytest.raises(ConfigError, match="gen-secret"):
        load_config(["--name", "n"], environ={})


# -- the warning about a readable secret file ---------------------------------


async def _start_and_stop(config: NodeConfig) -> list[dict[str, Any]]:
    started = anyio.Event()
    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(run_node, config, started=started))
            with anyio.fail_after(WAIT):
                await started.wait()
            tg.cancel_scope.cancel()
    return logs


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("mode", "warned"),
    [(0o644, True), (0o640, True), (0o604, True), (0o600, False), (0o400, False)],
)
async def test_a_secret_file_readable_by_others_is_warned_about(
    tmp_path: Path, mode: int, warned: bool
) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    path.chmod(mode)
    config = load_config(
        ["--name", "n", "--listen", "127.0.0.1:0", "--secret-file", str(path)], environ={}
    )
    logs = await _start_and_stop(config)
    warnings = [e for e in logs if e["event"] == "secret_file_readable_by_others"]
    assert len(warnings) == int(warned)
    if warned:
        assert warnings[0]["log_level"] == "warning"
        assert warnings[0]["path"] == str(path)
        assert warnings[0]["mode"] == f"{mode:04o}"
    assert [e for e in logs if e["event"] == "node_started"]
