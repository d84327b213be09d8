"""Reaching a running node's admin actor: a client :class:`~actors.remote.RemoteNode`.

:class:`AdminClient` holds the cluster secret as the node does, dials the node
(the handshake proves both sides hold it), and asks the admin actor at
``/user/admin``. What goes wrong on the way becomes one :class:`CtlError`
subclass per cause, so the command line can say which in one line.
"""

from __future__ import annotations

import os
import secrets
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio

from protocol import (
    AuthenticationFailed,
    ClusterMismatch,
    HandshakeError,
    WeakSecret,
    cluster_key,
)

from .. import ActorNotFound, ActorStopped, ActorSystem, AskTimeout, RemoteActorError
from ..remote import ConnectionLost, NodeUnreachable, RemoteNode, TcpTransport
from ._admin import ADMIN_NAME

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from .. import ActorRef, Clock
    from ..lowlevel import RequestTo
    from ..remote import Transport
    from ._queries import AdminQuery

__all__ = [
    "AdminClient",
    "CtlError",
    "NodeUnreachableError",
    "NotAuthenticated",
    "SecretError",
    "read_secret",
    "tls_transport",
]

R = TypeVar("R")

EXIT_UNREACHABLE = 3
"""Exit status when the node cannot be reached or refuses the handshake."""


class CtlError(Exception):
    """Something the command line reports as one line and a nonzero exit status."""

    exit_status = 1


class SecretError(CtlError):
    """No usable cluster secret (missing, unreadable, too weak), or TLS files that do not load."""

    exit_status = 2


class NodeUnreachableError(CtlError):
    """Nothing answers at the address, or it stopped answering."""

    exit_status = EXIT_UNREACHABLE


class NotAuthenticated(CtlError):
    """The node refused the handshake: another cluster secret or cluster name."""

    exit_status = EXIT_UNREACHABLE


def read_secret(secret_file: str | None, env: Mapping[str, str] | None = None) -> bytes:
    """The cluster key, found as the node finds it.

    ``secret_file`` (``--secret-file``), else ``TADPOLE_SECRET`` (the secret
    itself), else ``TADPOLE_SECRET_FILE``. Raises :class:`SecretError`.
    """
    env = os.environ if env is None else env
    if secret_file is None and env.get("TADPOLE_SECRET"):
        try:
            return cluster_key(env["TADPOLE_SECRET"])
        except WeakSecret as exc:
            raise SecretError(f"invalid secret from TADPOLE_SECRET: {exc}") from None
    source = "--secret-file"
    if secret_file is None and env.get("TADPOLE_SECRET_FILE"):
        secret_file, source = env["TADPOLE_SECRET_FILE"], "TADPOLE_SECRET_FILE"
    if secret_file is None:
        raise SecretError(
            "no cluster secret: use --secret-file PATH, TADPOLE_SECRET or TADPOLE_SECRET_FILE "
            "(the node's own)"
        )
    try:
        raw = Path(secret_file).expanduser().read_bytes()
    except OSError as exc:
        raise SecretError(
            f"cannot read the secret file {secret_file!r} from {source}: {exc.strerror or exc}"
        ) from None
    try:
        return cluster_key(raw)
    except WeakSecret as exc:
        raise SecretError(f"invalid secret in {secret_file!r} from {source}: {exc}") from None


def tls_transport(
    ca: str | None = None, cert: str | None = None, key: str | None = None
) -> TcpTransport:
    """A TCP transport that dials with TLS, trusting ``ca`` (default: the system's CAs).

    ``cert`` and ``key`` are this side's certificate, for a node that requires
    client certificates (one started with ``--tls-ca``). Raises :class:`SecretError`
    when the files cannot be loaded.
    """
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        if cert is not None:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise SecretError(f"cannot load the TLS files: {exc}") from None
    context.check_hostname = False  # nodes are named by the cluster secret, not by host names
    return TcpTransport(client_ssl=context)


class AdminClient:
    """A connection to one node's admin actor; an async context manager.

    ``async with AdminClient("127.0.0.1", 7350, secret=key) as client:
    status = await client.ask(GetStatus())``. Entering dials the node and
    completes the handshake; it raises :class:`NodeUnreachableError` or
    :class:`NotAuthenticated`. A node that listens with TLS needs a
    ``transport`` whose client context trusts its certificate (see
    :func:`tls_transport`).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        secret: bytes | str,
        cluster: str = "tadpole",
        timeout: float = 5.0,
        transport: Transport | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.node = ""
        """The node's name, once connected."""
        name = f"tadpole-ctl-{os.getpid()}-{secrets.token_hex(3)}"
        self._system = ActorSystem(name, maintenance_workers=0)
        self._remote = RemoteNode(
            self._system, name=name, cluster=cluster, secret=secret, transport=transport
        )
        self._admin: ActorRef[Any] | None = None

    @property
    def clock(self) -> Clock:
        """The client's clock (what ``top`` waits on between frames)."""
        return self._system.clock

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        await self._system.__aenter__()
        try:
            await self._remote.__aenter__()
            try:
                await self._connect()
            except CtlError:
                # Our own verdict: close cleanly, so that no task group wraps it in a group.
                await self._remote.__aexit__(None, None, None)
                raise
            except BaseException as exc:
                await self._remote.__aexit__(type(exc), exc, exc.__traceback__)
                raise
        except CtlError:
            await self._system.__aexit__(None, None, None)
            raise
        except BaseException as exc:
            await self._system.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, Exception):
            # An error of the caller's: close cleanly and let it through as it is
            # (the node's task group would wrap it in an ExceptionGroup).
            exc_type, exc, tb = None, None, None
        try:
            await self._remote.__aexit__(exc_type, exc, tb)
        finally:
            await self._system.__aexit__(exc_type, exc, tb)

    async def _connect(self) -> None:
        where = self.where
        try:
            with anyio.fail_after(self.timeout):
                self.node = await self._remote.contact(self.host, self.port)
        except AuthenticationFailed as exc:
            raise NotAuthenticated(f"wrong cluster secret for the node at {where}: {exc}") from None
        except ClusterMismatch as exc:
            raise NotAuthenticated(f"wrong cluster name for the node at {where}: {exc}") from None
        except HandshakeError as exc:
            raise NotAuthenticated(f"no handshake with the node at {where}: {exc}") from None
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise NotAuthenticated(
                f"the node at {where} closed the connection during the handshake "
                f"(another cluster secret or cluster name?): {type(exc).__name__}"
            ) from None
        except TimeoutError:
            raise NodeUnreachableError(f"no answer from {where} within {self.timeout:g}s") from None
        except ConnectionRefusedError:
            raise NodeUnreachableError(
                f"cannot reach a node at {where}: nothing listens there (connection refused)"
            ) from None
        except OSError as exc:
            raise NodeUnreachableError(
                f"cannot reach a node at {where}: {exc.strerror or exc}"
            ) from None
        except Exception as exc:  # the remote wing's own "peer hung up in the handshake"
            raise NotAuthenticated(
                f"no handshake with the node at {where}: {exc} "
                "(a node that listens with TLS needs --tls-ca)"
            ) from None
        self._admin = self._remote.ref(
            f"tadpole://{self.node}@{self.host}:{self.port}/user/{ADMIN_NAME}"
        )

    async def ask(self, query: RequestTo[AdminQuery, R]) -> R:
        """Ask the admin actor; typed by the query (``GetStatus()`` gives a ``Status``).

        Raises a :class:`CtlError` when no reply comes.
        """
        assert self._admin is not None, "use `async with AdminClient(...)`"
        try:
            reply: R = await self._admin.ask(query, timeout=self.timeout)
            return reply
        except AskTimeout:
            raise NodeUnreachableError(
                f"node {self.node} at {self.where} did not answer within {self.timeout:g}s"
            ) from None
        except (ConnectionLost, NodeUnreachable) as exc:
            raise NodeUnreachableError(f"lost node {self.node} at {self.where}: {exc}") from None
        except (ActorNotFound, ActorStopped) as exc:
            # A node answers an ask to a path where nothing lives with ActorStopped.
            raise CtlError(
                f"node {self.node} at {self.where} runs no admin actor ({exc})"
            ) from None
        except RemoteActorError as exc:
            if exc.type_name.rpartition(".")[2] == "ActorNotFound":
                raise CtlError(f"node {self.node} at {self.where} runs no admin actor") from None
            raise CtlError(f"node {self.node} failed the query: {exc}") from None
