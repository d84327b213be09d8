"""The node's settings: command-line flags over ``TADPOLE_*`` variables over a TOML file.

Every setting has a flag (``--heartbeat-interval``), an environment variable
(``TADPOLE_HEARTBEAT_INTERVAL``) and a key of the config file
(``heartbeat_interval = 0.5``, at the top level or under ``[node]``). The
secret is read from ``--secret-file``, else ``TADPOLE_SECRET`` (the secret
itself), else ``TADPOLE_SECRET_FILE``, else ``secret_file`` in the config; it is
never accepted as a flag value or config key, so it does not show in ``ps``
or in a config file under version control.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["ConfigError", "NodeConfig", "build_parser", "load_config"]


class ConfigError(ValueError):
    """The node's settings are invalid; the message says which and why."""


class NodeConfig(msgspec.Struct, frozen=True):
    """Resolved settings of one node."""

    name: str
    listen: tuple[str, int]
    secret: bytes = msgspec.field(default=b"")
    cluster: str = "tadpole"
    seeds: tuple[tuple[str, int], ...] = ()
    advertise_host: str | None = None
    data_dir: Path | None = None
    app: str | None = None
    log_format: str = "console"
    log_level: str = "info"
    heartbeat_interval: float = 1.0
    phi_threshold: float = 8.0
    down_after: float = 5.0
    drain_timeout: float = 10.0
    handshake_timeout: float = 5.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    seed: int | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"NodeConfig(name={self.name!r}, listen={self.listen!r}, cluster={self.cluster!r})"


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _seeds(value: Any) -> tuple[tuple[str, int], ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(host_port(str(item)) for item in items if str(item).strip())


def _positive(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ConfigError(f"expected a positive number, got {value!r}")
    return number


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value).lower()
        if text not in options:
            raise ConfigError(f"expected one of {', '.join(options)}, got {value!r}")
        return text

    return check


# setting -> (converter, default, help)
_SETTINGS: Final[dict[str, tuple[Callable[[Any], Any], Any, str]]] = {
    "name": (str, None, "node name, unique in the cluster (required)"),
    "listen": (host_port, ("127.0.0.1", 7350), "HOST:PORT to listen on (default 127.0.0.1:7350)"),
    "seeds": (_seeds, (), "comma-separated HOST:PORT of seed nodes to join through"),
    "cluster": (str, "tadpole", "cluster name; peers must use the same (default tadpole)"),
    "advertise_host": (str, None, "host peers should dial, when listening on 0.0.0.0"),
    "data_dir": (Path, None, "directory for the node's data, its ledger (created if missing)"),
    "app": (str, None, "module:callable run at start with a NodeContext, to spawn actors"),
    "log_format": (_choice("json", "console"), "console", "json (one object per line) or console"),
    "log_level": (_choice("debug", "info", "warning", "error"), "info", "minimum log level"),
    "heartbeat_interval": (_positive, 1.0, "seconds between heartbeats (default 1.0)"),
    "phi_threshold": (_positive, 8.0, "failure detector threshold (default 8.0)"),
    "down_after": (float, 5.0, "seconds unreachable before a member is down (default 5.0)"),
    "drain_timeout": (float, 10.0, "seconds to let in-flight asks finish on shutdown"),
    "handshake_timeout": (_positive, 5.0, "seconds a peer has to complete the handshake"),
    "tls_cert": (Path, None, "PEM certificate chain of this node (enables TLS)"),
    "tls_key": (Path, None, "PEM private key of this node"),
    "tls_ca": (Path, None, "PEM CA bundle that signs the peers' certificates"),
    "seed": (int, None, "seed of the runtime's random generator (reproducible runs)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actors.node",
        description=(
            "Run a Tadpole cluster node. Every option can also be set with an "
            "environment variable TADPOLE_<OPTION> (e.g. TADPOLE_LISTEN) or a key "
            'in the TOML --config file (e.g. listen = "0.0.0.0:7350"); flags '
            "override the environment, which overrides the file."
        ),
        epilog=(
            "The cluster secret comes from --secret-file, else TADPOLE_SECRET "
            "(the secret itself), else TADPOLE_SECRET_FILE, else secret_file in "
            "the config. SIGTERM or SIGINT stops the node gracefully: it stops "
            "accepting work, lets in-flight asks finish (--drain-timeout), leaves "
            "the cluster and exits 0."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=None,
    )
    parser.add_argument("--config", metavar="PATH", help="TOML config file (env TADPOLE_CONFIG)")
    parser.add_argument("--secret-file", metavar="PATH", help="file holding the cluster secret")
    for key, (_, _default, text) in _SETTINGS.items():
        flag = "--" + key.replace("_", "-")
        metavar = {"listen": "HOST:PORT", "seeds": "HOST:PORT,...", "app": "MODULE:CALLABLE"}.get(
            key, key.upper()
        )
        parser.add_argument(
            flag, dest=key, metavar=metavar, help=f"{text} [env TADPOLE_{key.upper()}]"
        )
    return parser


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> NodeConfig:
    """Resolve the settings; raises :class:`ConfigError` (argparse exits on bad flags)."""
    import os

    env = dict(os.environ if environ is None else environ)
    args = build_parser().parse_args(argv)
    config_path = args.config or env.get("TADPOLE_CONFIG")
    file: dict[str, Any] = {}
    if config_path:
        try:
            data = tomllib.loads(Path(config_path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_path}: {exc}") from None
        file = dict(data.get("node", data))
        unknown = set(file) - set(_SETTINGS) - {"secret_file", "node"}
        if unknown:
            raise ConfigError(f"unknown keys in {config_path}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for key, (convert, default, _) in _SETTINGS.items():
        raw: Any = getattr(args, key)
        source = f"--{key.replace('_', '-')}"
        if raw is None and f"TADPOLE_{key.upper()}" in env:
            raw, source = env[f"TADPOLE_{key.upper()}"], f"TADPOLE_{key.upper()}"
        if raw is None and key in file:
            raw, source = file[key], f"{key} in {config_path}"
        if raw is None:
            values[key] = default
            continue
        try:
            values[key] = convert(raw)
        except (ConfigError, ValueError, TypeError) as exc:
            raise ConfigError(f"{source}: {exc}") from None
    if not values["name"]:
        raise ConfigError("a node name is required (--name or TADPOLE_NAME)")
    values["secret"] = _secret(args.secret_file, env, file.get("secret_file"))
    if (values["tls_cert"] is None) != (values["tls_key"] is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    return NodeConfig(**values)


def _secret(flag: str | None, env: Mapping[str, str], configured: Any) -> bytes:
    path: str | None = None
    if flag:
        path = flag
    elif env.get("TADPOLE_SECRET"):
        return env["TADPOLE_SECRET"].encode()
    elif env.get("TADPOLE_SECRET_FILE"):
        path = env["TADPOLE_SECRET_FILE"]
    elif configured:
        path = str(configured)
    if path is None:
        raise ConfigError(
            "no cluster secret: use --secret-file PATH, TADPOLE_SECRET or TADPOLE_SECRET_FILE"
        )
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the secret file {path}: {exc}") from None
    if not secret:
        raise ConfigError(f"the secret file {path} is empty")
    return secret
