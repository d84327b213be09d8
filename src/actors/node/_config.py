"""The node's settings: command-line flags over ``TADPOLE_*`` variables over a TOML file.

Every setting has a flag (``--heartbeat-interval``), an environment variable
(``TADPOLE_HEARTBEAT_INTERVAL``) and a key of the config file
(``heartbeat_interval = 0.5``, at the top level or under ``[node]``). The
secret is read from ``--secret-file``, else ``TADPOLE_SECRET`` (the secret
itself), else ``TADPOLE_SECRET_FILE``, else ``secret_file`` in the config; it is
never accepted as a flag value or config key, so it does not show in ``ps``
or in a config file under version control. Wherever it comes from, the key is
its bytes with surrounding whitespace stripped, and it must hold 128 bits
(:func:`protocol.cluster_key`).

Every value is checked here, before anything starts: names, host and port
syntax and ranges, durations finite and positive, paths, choices.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import ipaddress
import math
import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from protocol import MAX_NAME_LENGTH, WeakSecret, cluster_key

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
    lifecycle_log: bool = False
    """Log every actor's start and stop (``actor_started``, ``actor_stopped``) at info."""
    heartbeat_interval: float = 1.0
    phi_threshold: float = 8.0
    down_after: float = 5.0
    drain_timeout: float = 10.0
    handshake_timeout: float = 5.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    seed: int | None = None
    secret_file: Path | None = None
    """The file the secret was read from (``None``: from ``TADPOLE_SECRET`` or code)."""
    http_listen: tuple[str, int] | None = None
    """Where the tickets' HTTP API listens (``None``: no HTTP API)."""
    http_token: str | None = None
    """The HTTP API's bearer token (``None``: the cluster secret in hex)."""
    http_max_body: int = 1 << 20

    def __repr__(self) -> str:  # never print the secret
        return f"NodeConfig(name={self.name!r}, listen={self.listen!r}, cluster={self.cluster!r})"


_NAME_RE: Final = re.compile(r"[^@/\s]+")
_HOSTNAME_RE: Final = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)
_APP_RE: Final = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected a string, got {type(value).__name__}")
    return value


def _token(value: Any) -> str:
    text = _text(value).strip()
    if len(text) < 16 or not text.isprintable() or " " in text:
        raise ConfigError("must be at least 16 printable characters without spaces")
    return text


def _body_limit(value: Any) -> int:
    number = _integer(value)
    if not 1024 <= number <= 1 << 30:
        raise ConfigError(f"must be 1024..{1 << 30} bytes, got {number}")
    return number


def _node_name(value: Any) -> str:
    text = _text(value)
    if not 0 < len(text) <= MAX_NAME_LENGTH:
        raise ConfigError(f"must be 1..{MAX_NAME_LENGTH} characters, got {len(text)}")
    if not _NAME_RE.fullmatch(text) or not text.isprintable():
        raise ConfigError("must not contain '@', '/', spaces or control characters")
    return text


def _cluster_name(value: Any) -> str:
    text = _text(value)
    if not 0 < len(text) <= MAX_NAME_LENGTH:
        raise ConfigError(f"must be 1..{MAX_NAME_LENGTH} characters, got {len(text)}")
    if not text.isprintable() or text != text.strip():
        raise ConfigError("must not contain control characters or surrounding spaces")
    return text


def _host(value: Any) -> str:
    text = _text(value)
    bracketed = text.startswith("[") and text.endswith("]")
    inner = text[1:-1] if bracketed else text
    try:
        ipaddress.ip_address(inner)
    except ValueError:
        if bracketed or not _HOSTNAME_RE.fullmatch(text):
            raise ConfigError("expected a host name or an IP address") from None
    return inner


def _endpoint(value: Any, *, lowest_port: int) -> tuple[str, int]:
    text = _text(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host or not _PORT_RE.fullmatch(port):
        raise ConfigError("expected HOST:PORT ([HOST]:PORT for IPv6)")
    if not lowest_port <= int(port) <= 65535:
        raise ConfigError(f"port {port} is out of range {lowest_port}..65535")
    return _host(host), int(port)


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) to dial: port 1..65535; raises ConfigError."""
    return _endpoint(text, lowest_port=1)


def _listen(value: Any) -> tuple[str, int]:
    return _endpoint(value, lowest_port=0)  # 0: the system picks a free port


def _seeds(value: Any) -> tuple[tuple[str, int], ...]:
    if isinstance(value, str):
        if not value.strip():
            return ()
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise ConfigError(f"expected HOST:PORT,... or a list, got {type(value).__name__}")
    seeds = []
    for number, item in enumerate(items, 1):
        if isinstance(item, str) and not item.strip():
            raise ConfigError(f"seed {number} is empty")
        try:
            seeds.append(host_port(item))
        except ConfigError as exc:
            raise ConfigError(f"seed {number} {item!r}: {exc}") from None
    return tuple(seeds)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"expected a number, got {type(value).__name__}")
    try:
        return float(value)
    except ValueError:
        raise ConfigError("expected a number") from None


def _positive(value: Any) -> float:
    number = _number(value)
    if not math.isfinite(number) or number <= 0:
        raise ConfigError("expected a finite number > 0")
    return number


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"expected an integer, got {type(value).__name__}")
    try:
        return int(value)
    except ValueError:
        raise ConfigError("expected an integer") from None


def _app(value: Any) -> str:
    text = _text(value)
    if not _APP_RE.fullmatch(text):
        raise ConfigError("expected MODULE:CALLABLE (dotted Python names)")
    return text


def _path(value: Any) -> Path:
    text = _text(value)
    if not text or "\0" in text:
        raise ConfigError("expected a path")
    return Path(text).expanduser()


def _readable_file(value: Any) -> Path:
    path = _path(value)
    if not path.is_file():
        raise ConfigError("no such file")
    if not os.access(path, os.R_OK):
        raise ConfigError("the file is not readable")
    return path


def _directory(value: Any) -> Path:
    path = _path(value)
    if path.exists():
        if not path.is_dir():
            raise ConfigError("exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError("the directory is not writable")
        return path
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot be created: {parent} is not a writable directory")
    return path


_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"expected true or false, got {type(value).__name__}")
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError("expected true or false (also 1/0, yes/no, on/off)")


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _text(value).lower()
        if text not in options:
            raise ConfigError(f"expected one of {', '.join(options)}")
        return text

    return check


# setting -> (converter, default, help)
_SETTINGS: Final[dict[str, tuple[Callable[[Any], Any], Any, str]]] = {
    "name": (_node_name, None, "node name, unique in the cluster (required)"),
    "listen": (_listen, ("127.0.0.1", 7350), "HOST:PORT to listen on (default 127.0.0.1:7350)"),
    "seeds": (_seeds, (), "comma-separated HOST:PORT of seed nodes to join through"),
    "cluster": (_cluster_name, "tadpole", "cluster name; peers must use the same"),
    "advertise_host": (_host, None, "host peers should dial, when listening on 0.0.0.0"),
    "data_dir": (_directory, None, "directory for the node's data, its ledger (created)"),
    "app": (_app, None, "module:callable run at start with a NodeContext, to spawn actors"),
    "log_format": (_choice("json", "console"), "console", "json (one object per line) or console"),
    "log_level": (_choice("debug", "info", "warning", "error"), "info", "minimum log level"),
    "lifecycle_log": (
        _boolean,
        False,
        "also log each actor's start and stop at info (off: 10,000 actors are not 20,000 lines)",
    ),
    "heartbeat_interval": (_positive, 1.0, "seconds between heartbeats (default 1.0)"),
    "phi_threshold": (_positive, 8.0, "failure detector threshold (default 8.0)"),
    "down_after": (_positive, 5.0, "seconds unreachable before a member is down (default 5.0)"),
    "drain_timeout": (_positive, 10.0, "seconds to let in-flight asks finish on shutdown"),
    "handshake_timeout": (_positive, 5.0, "seconds a peer has to complete the handshake"),
    "tls_cert": (_readable_file, None, "PEM certificate chain of this node (enables TLS)"),
    "tls_key": (_readable_file, None, "PEM private key of this node"),
    "tls_ca": (_readable_file, None, "PEM CA bundle that signs the peers' certificates"),
    "seed": (_integer, None, "seed of the runtime's random generator (reproducible runs)"),
    "http_listen": (
        _listen,
        None,
        "HOST:PORT of the tickets' HTTP API (off by default; use 127.0.0.1 for loopback)",
    ),
    "http_token": (_token, None, "bearer token of the HTTP API (default: the secret in hex)"),
    "http_max_body": (_body_limit, 1 << 20, "largest HTTP request body in bytes (default 1 MiB)"),
}


def _shown(value: Any) -> str:
    """``value`` for an error line: its repr, one line, shortened when long."""
    text = repr(value)
    if len(text) > 80:
        size = f", {len(value)} characters" if isinstance(value, str) else ""
        text = f"{text[:60]}...{text[-10:]} ({type(value).__name__}{size})"
    return text


def version() -> str:
    """The installed version of Tadpole (``tadpole-actors``), or ``unknown``."""
    try:
        return importlib.metadata.version("tadpole-actors")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


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
            "the config; surrounding whitespace is not part of it, and it must "
            "hold 128 bits (32 hex digits, 22 base64 characters or 16 bytes).\n"
            "Make one with: python -m actors.node gen-secret PATH  (a new file, mode 0600)\n\n"
            "SIGTERM, SIGINT or SIGHUP stops the node gracefully: it stops "
            "accepting work, lets in-flight asks finish (--drain-timeout), leaves "
            "the cluster and exits 0.\n\n"
            "Exit codes: 0 after a graceful stop; 2 when the node cannot start "
            "(a bad setting, a port in use, a data directory in use or unusable, "
            "a corrupt ledger, or seeds that refuse it: wrong secret, other "
            "cluster name, a duplicate node name), with one line on stderr."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=None,
    )
    parser.add_argument("--config", metavar="PATH", help="TOML config file (env TADPOLE_CONFIG)")
    parser.add_argument("--secret-file", metavar="PATH", help="file holding the cluster secret")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    for key, (convert, _default, text) in _SETTINGS.items():
        flag = "--" + key.replace("_", "-")
        if convert is _boolean:  # a switch; --flag=false also works
            parser.add_argument(
                flag,
                dest=key,
                nargs="?",
                const="true",
                metavar="BOOL",
                help=f"{text} [env TADPOLE_{key.upper()}]",
            )
            continue
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
    """Resolve and validate every setting; raises :class:`ConfigError` (argparse exits on
    unknown flags).

    The error is one line naming the setting, where its value came from (the
    flag, the ``TADPOLE_*`` variable or the config file) and the value (never
    the secret's).
    """
    env = dict(os.environ if environ is None else environ)
    args = build_parser().parse_args(argv)
    config_path = args.config or env.get("TADPOLE_CONFIG")
    file: dict[str, Any] = {}
    if config_path:
        try:
            data = tomllib.loads(Path(config_path).read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_path}: {exc}") from None
        table = data.get("node", data)
        if not isinstance(table, dict):
            raise ConfigError(f"[node] in {config_path} must be a table")
        file = dict(table)
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
            raise ConfigError(f"invalid {key} {_shown(raw)} from {source}: {exc}") from None
    if not values["name"]:
        raise ConfigError("a node name is required (--name, TADPOLE_NAME or name in --config)")
    values["secret"], values["secret_file"] = _secret(
        args.secret_file, env, file.get("secret_file"), config_path
    )
    if (values["tls_cert"] is None) != (values["tls_key"] is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    if values["tls_ca"] is not None and values["tls_cert"] is None:
        raise ConfigError("--tls-ca needs --tls-cert and --tls-key")
    return NodeConfig(**values)


def _secret(
    flag: str | None, env: Mapping[str, str], configured: Any, config_path: str | None
) -> tuple[bytes, Path | None]:
    """The HMAC key (see :func:`protocol.cluster_key`) and the file it came from, if any."""
    path: str | None = None
    if flag is not None:
        path, source = flag, "--secret-file"
    elif env.get("TADPOLE_SECRET"):
        try:
            return cluster_key(env["TADPOLE_SECRET"]), None
        except WeakSecret as exc:
            raise ConfigError(f"invalid secret from TADPOLE_SECRET: {exc}") from None
    elif env.get("TADPOLE_SECRET_FILE"):
        path, source = env["TADPOLE_SECRET_FILE"], "TADPOLE_SECRET_FILE"
    elif configured is not None:
        if not isinstance(configured, str):
            raise ConfigError(
                f"invalid secret_file {_shown(configured)} from secret_file in {config_path}: "
                "expected a string"
            )
        path, source = configured, f"secret_file in {config_path}"
    if path is None:
        raise ConfigError(
            "no cluster secret: use --secret-file PATH, TADPOLE_SECRET or TADPOLE_SECRET_FILE "
            "(make one with `python -m actors.node gen-secret PATH`)"
        )
    file = Path(path).expanduser()
    try:
        raw = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"invalid secret_file {path!r} from {source}: {reason}") from None
    try:
        return cluster_key(raw), file
    except WeakSecret as exc:
        raise ConfigError(f"invalid secret in {path!r} from {source}: {exc}") from None
