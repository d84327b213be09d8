"""The README's curl walk-through of a three-stage pipeline, run as written against a live node.

The two marked ```sh blocks are taken from README.md: the node's command line
(ports 0, the test's secret file, JSON logs to learn the HTTP port) and the
walk-through, run by bash with the HTTP port put in. Every ``# {...}`` line of
the walk-through is an answer that must appear in its output (``...`` matches
anything).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SECRET

pytest.importorskip("uvicorn", reason="the HTTP API needs the http extra (starlette, uvicorn)")

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def block(marker: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)\n```", text, re.S)
    assert found, f"README.md has no ```sh block after <!-- {marker} -->"
    return found.group(1)


def expected_answers(walkthrough: str) -> list[re.Pattern[str]]:
    answers = [line[2:] for line in walkthrough.splitlines() if line.startswith("# {")]
    return [re.compile(".*".join(map(re.escape, a.split("...")))) for a in answers]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
@pytest.mark.slow
def test_readme_curl_walkthrough_runs_as_written(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    argv = shlex.split(block("tickets-node").replace("\\\n", " "))
    assert argv[0] == ".venv/bin/python"
    argv[0] = sys.executable
    command = " ".join(argv)
    for fixed in ("127.0.0.1:7360", "127.0.0.1:8350", "/tmp/tadpole-secret"):
        assert fixed in command, f"the README's node command no longer uses {fixed}"
    argv = [
        {"127.0.0.1:7360": "127.0.0.1:0", "127.0.0.1:8350": "127.0.0.1:0"}.get(a, a) for a in argv
    ]
    argv = [str(secret) if a == "/tmp/tadpole-secret" else a for a in argv]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TADPOLE_")}
    environ |= {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", "TADPOLE_LOG_FORMAT": "json"}
    node = subprocess.Popen(
        argv, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert node.stdout is not None
        url = None
        for line in node.stdout:  # bounded by the node's exit and pytest's timeout
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "http_listening":
                url = event["url"]
                break
        assert url is not None, "the node did not serve HTTP"
        walkthrough = block("tickets-walkthrough")
        assert "http://127.0.0.1:8350" in walkthrough
        script = walkthrough.replace("http://127.0.0.1:8350", url)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        for answer in expected_answers(walkthrough):
            assert any(answer.fullmatch(line) for line in lines), (answer.pattern, lines)
        status = json.loads(lines[-2])
        assert status["done"] is True
        assert status["stuck"] == 0
        assert status["counts"]["curate"]["completed"] == 2
        assert len(json.loads(lines[-1])) == 2  # the two review concerns
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=60)
        if node.stdout is not None:
            node.stdout.close()
