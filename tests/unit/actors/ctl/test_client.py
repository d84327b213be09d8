"""The CLI finds the cluster secret as the node does: flag, then environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from actors.ctl import SecretError, read_secret
from protocol import cluster_key
from tests.helpers import OTHER_SECRET, SECRET

if TYPE_CHECKING:
    from pathlib import Path


def test_the_flag_wins_over_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    assert read_secret(str(path), {"TADPOLE_SECRET": OTHER_SECRET}) == cluster_key(SECRET)


def test_then_the_secret_itself_then_a_file_named_in_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(OTHER_SECRET)
    both = {"TADPOLE_SECRET": SECRET, "TADPOLE_SECRET_FILE": str(path)}
    assert read_secret(None, both) == cluster_key(SECRET)
    assert read_secret(None, {"TADPOLE_SECRET_FILE": str(path)}) == cluster_key(OTHER_SECRET)


@pytest.mark.parametrize(
    ("flag", "env", "message"),
    [
        (None, {}, "no cluster secret: use --secret-file PATH"),
        (None, {"TADPOLE_SECRET": "short"}, "invalid secret from TADPOLE_SECRET"),
        ("/nonexistent/secret", {}, "cannot read the secret file '/nonexistent/secret'"),
        (None, {"TADPOLE_SECRET_FILE": "/nonexistent/s"}, "from TADPOLE_SECRET_FILE"),
    ],
)
def test_a_missing_or_weak_secret_is_one_clear_error(
    flag: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SecretError, match=message) as caught:
        read_secret(flag, env)
    assert caught.value.exit_status == 2


def test_a_weak_secret_in_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("tooshort")
    with pytest.raises(SecretError, match=f"invalid secret in '{path}' from --secret-file"):
        read_secret(str(path), {})
