"""The node's HTTP settings: --http-listen, --http-token, --http-max-body."""

from __future__ import annotations

import pytest

from actors.node import ConfigError, load_config
from tests.helpers import SECRET

BASE = ["--name", "n", "--listen", "127.0.0.1:0"]


def test_http_is_off_by_default_and_takes_host_port_token_and_limit() -> None:
    assert load_config(BASE, {"TADPOLE_SECRET": SECRET}).http_listen is None
    config = load_config(
        [*BASE, "--http-listen", "127.0.0.1:0", "--http-max-body", "2048"],
        {"TADPOLE_SECRET": SECRET, "TADPOLE_HTTP_TOKEN": "t" * 16},
    )
    assert config.http_listen == ("127.0.0.1", 0)
    assert config.http_token == "t" * 16
    assert config.http_max_body == 2048
    assert "t" * 16 not in repr(config)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--http-listen", "nowhere"], "invalid http_listen 'nowhere' from --http-listen"),
        (["--http-token", "short"], "invalid http_token"),
        (["--http-max-body", "10"], "invalid http_max_body '10'"),
    ],
)
def test_bad_http_settings_name_the_setting(args: list[str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config([*BASE, *args], {"TADPOLE_SECRET": SECRET})
