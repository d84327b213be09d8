"""``python -m actors.ledger``: verify, tail, replay, checkpoint and append on real files."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import msgspec
import pytest
from structlog.testing import capture_logs

from actors.ledger import LedgerReader
from actors.ledger._cli import main

if TYPE_CHECKING:
    from pathlib import Path

_HEX = 64


def run(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with capture_logs():  # the library's logs are not the command's output
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(
    ledger_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Path:
    lines = "".join(f'{{"job": {n}, "worker": "w{n % 2}"}}\n' for n in range(5))
    code, out, _ = run(
        ["append", str(ledger_path), "--kind", "job.started"], capsys, monkeypatch, lines
    )
    assert code == 0, out
    return ledger_path


def test_append_writes_one_record_per_line(
    filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        ["append", str(filled), "--kind", "job.finished"], capsys, monkeypatch, '{"job": 0}\n\n'
    )
    assert code == 0
    assert out.startswith("appended 1 records (seq 6..6), head ")
    with LedgerReader(filled) as reader:
        records = list(reader.records())
    assert [r.kind for r in records] == ["job.started"] * 5 + ["job.finished"]
    assert records[-1].value() == {"job": 0}


@pytest.mark.parametrize(
    ("line", "reason"),
    [("{not json", "invalid JSON"), ("[1, 2]", "expected a JSON object, got list")],
)
def test_append_rejects_a_bad_line_by_number_and_writes_nothing(
    filled: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    line: str,
    reason: str,
) -> None:
    stdin = f'{{"ok": 1}}\n{{"ok": 2}}\n{line}\n{{"ok": 3}}\n'
    code, _, err = run(["append", str(filled), "--kind", "k"], capsys, monkeypatch, stdin)
    assert code == 1
    assert err.startswith(f"line 3: {reason}")
    assert "nothing was appended" in err
    with LedgerReader(filled) as reader:
        assert reader.state().head_seq == 5


def test_append_can_start_an_epoch(
    filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["append", str(filled), "--kind", "k", "--epoch", "3"]
    assert run(argv, capsys, monkeypatch, "{}\n")[0] == 0
    with LedgerReader(filled) as reader:
        assert [r.epoch for r in reader.tail(2)] == [0, 3]


def test_verify_prints_count_and_head_hash(
    filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["verify", str(filled)], capsys, monkeypatch)
    with LedgerReader(filled) as reader:
        head = reader.state().head_hash.hex()
    assert code == 0
    assert out == f"ok: 5 records (seq 1..5), head {head}\n"


def test_verify_names_the_first_bad_record_and_exits_1(
    filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sqlite3.connect(filled) as conn:
        conn.execute("UPDATE records SET payload = X'80' WHERE seq = 3")
    code, out, _ = run(["verify", str(filled)], capsys, monkeypatch)
    assert code == 1
    assert out.startswith("corrupt: first bad record is seq 3: hash_mismatch: ")

    code, out, _ = run(["verify", "--json", str(filled)], capsys, monkeypatch)
    report = msgspec.json.decode(out)
    assert code == 1
    assert report["fault"]["seq"] == 3
    assert report["fault"]["kind"] == "hash_mismatch"


def test_tail_prints_json_lines(
    filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["tail", str(filled), "-n", "2"], capsys, monkeypatch)
    rows = [msgspec.json.decode(line) for line in out.splitlines()]
    assert code == 0
    assert [row["seq"] for row in rows] == [4, 5]
    assert rows[-1]["payload"] == {"job": 4, "worker": "w0"}
    assert rows[-1]["prev_hash"] == rows[0]["hash"]


def test_replay_prints_the_same_digest_every_time(
    filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(["replay", str(filled)], capsys, monkeypatch)
    second = run(["replay", str(filled), "--from-start"], capsys, monkeypatch)
    assert first[0] == second[0] == 0
    assert first[1] == second[1]
    assert len(first[1].strip()) == _HEX

    code, out, _ = run(["replay", str(filled), "--epoch", "0", "--json"], capsys, monkeypatch)
    assert code == 0
    assert msgspec.json.decode(out)["records"] == 5
    code, _, err = run(["replay", str(filled), "--epoch", "9"], capsys, monkeypatch)
    assert code == 1
    assert "epoch 9" in err


def test_replay_loads_reducers_by_name(
    filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["replay", str(filled), "--reducers", "actors.ledger:summary_reducers"]
    assert run(argv, capsys, monkeypatch)[0] == 0
    argv = ["replay", str(filled), "--reducers", "actors.ledger:Ledger"]
    code, _, err = run(argv, capsys, monkeypatch)
    assert code == 2
    assert "not Reducers" in err


def test_checkpoint_and_prune_keep_the_digest(
    filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = run(["replay", str(filled)], capsys, monkeypatch)[1]
    code, out, _ = run(["checkpoint", str(filled), "--prune"], capsys, monkeypatch)
    assert code == 0
    assert out.startswith("checkpoint at seq 5 (reducers tadpole.summary), digest ")
    assert out.endswith("pruned 5 records\n")
    assert run(["replay", str(filled)], capsys, monkeypatch)[1] == before
    code, out, _ = run(["verify", str(filled)], capsys, monkeypatch)
    assert code == 0
    assert "anchored on the checkpoint at seq 5" in out


def test_missing_or_foreign_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for command in ("verify", "tail", "replay", "checkpoint"):
        code, _, err = run([command, str(tmp_path / "nope.db")], capsys, monkeypatch)
        assert (code, err.startswith("error: no ledger at")) == (2, True)
    (tmp_path / "junk").write_bytes(b"\x00" * 4096)
    code, _, err = run(["verify", str(tmp_path / "junk")], capsys, monkeypatch)
    assert code == 2
    assert "not a Tadpole ledger" in err


def test_help_states_which_files_are_damaged_ledgers_and_which_are_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 the ledger is bad" in text
    assert 'cut off (even to 0 bytes: "unreadable" at seq 1)' in text
    assert "2 a usage error, or the path is not a ledger at all" in text


def test_python_dash_m_runs_the_command_line(filled: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "actors.ledger", "verify", str(filled)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: 5 records")
    assert done.stderr == ""


def test_verify_reports_a_damaged_file_as_corrupt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "damaged.db"
    lines = "".join(f'{{"n": {n}, "pad": "{"x" * 200}"}}\n' for n in range(200))
    assert run(["append", str(path), "--kind", "k"], capsys, monkeypatch, lines)[0] == 0
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(size // 2)
    code, out, _ = run(["verify", str(path)], capsys, monkeypatch)
    assert code == 1
    assert out.startswith("corrupt: first bad record is seq ")
