"""Cluster nodes: ``python -m actors.node`` and its parts, for embedding or tests."""

from protocol._public import publish as _publish_names

from ._config import ConfigError as ConfigError
from ._config import NodeConfig as NodeConfig
from ._config import load_config as load_config
from ._main import gen_secret as gen_secret
from ._main import main as main
from ._run import LEDGER_FILE as LEDGER_FILE
from ._run import NodeContext as NodeContext
from ._run import configure_logging as configure_logging
from ._run import run_node as run_node

__all__ = (
    "LEDGER_FILE",
    "ConfigError",
    "NodeConfig",
    "NodeContext",
    "configure_logging",
    "gen_secret",
    "load_config",
    "main",
    "run_node",
)

_publish_names(__name__, globals(), __all__)
