"""Actor addresses: where an actor lives, across nodes.

The scheme::

    tadpole://NODE@HOST:PORT/PATH
    tadpole://alpha@127.0.0.1:7350/user/counter
    tadpole://alpha@[::1]:7350/user/counter       (IPv6 hosts in brackets)

``NODE`` is the node's name (the name it proves in the handshake), ``HOST`` and
``PORT`` where it listens, ``PATH`` the actor's path in that node's system
(``/user/...``, or ``/system/...`` for the runtime's own services). An address
without ``@HOST:PORT`` (``tadpole://alpha/user/counter``, what a local ref
prints) names an actor of the local system only.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from ._errors import InvalidAddress

__all__ = ["Address", "parse_address"]

SCHEME: Final = "tadpole://"

_PATTERN = re.compile(
    r"^tadpole://(?P<node>[^@/\s]{1,255})"
    r"(?:@(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\s\[\]]+):(?P<port>\d{1,5}))?"
    r"(?P<path>/\S*)?$"
)


class Address(msgspec.Struct, frozen=True, gc=False):
    """A parsed actor address; ``host``/``port`` are ``None`` for a local-only address."""

    node: str
    host: str | None
    port: int | None
    path: str = ""

    @property
    def node_address(self) -> str:
        """The node part: ``tadpole://node@host:port``."""
        if self.host is None:
            return f"{SCHEME}{self.node}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{SCHEME}{self.node}@{host}:{self.port}"

    def with_path(self, path: str) -> Address:
        """The same node, another actor path."""
        if not path.startswith("/"):
            raise InvalidAddress(path, "an actor path starts with '/'")
        return Address(self.node, self.host, self.port, path)

    def __str__(self) -> str:
        return self.node_address + self.path


def parse_address(address: str) -> Address:
    """Parse ``tadpole://node@host:port/path``; raises :class:`InvalidAddress`."""
    match = _PATTERN.match(address)
    if match is None:
        raise InvalidAddress(address, "expected tadpole://NODE@HOST:PORT/PATH")
    host = match["host"]
    port: int | None = None
    if host is not None:
        host = host.strip("[]")
        port = int(match["port"])
        if not 0 < port < 65536:
            raise InvalidAddress(address, f"port {port} is out of range 1..65535")
    path = match["path"] or ""
    if "//" in path:
        raise InvalidAddress(address, "empty path segment")
    return Address(match["node"], host, port, path.rstrip("/") if path != "/" else path)
