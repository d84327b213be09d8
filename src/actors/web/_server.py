"""The node's HTTP server: uvicorn serving an ASGI app inside the caller's loop.

A task of the caller's task group, never a second loop or thread. The node
owns the signals, so the server installs none; :meth:`HttpServer.stop` ends it
gracefully (uvicorn finishes the requests in flight). An app built by
:func:`actors.web.build_app` keeps long-lived event streams open, so stopping
the server also sets that app's ``state.stopping`` event: the streams end and
uvicorn's graceful shutdown does not wait on them.
"""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING

import anyio
import uvicorn

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterator

    from starlette.types import ASGIApp

__all__ = ("HttpServer",)


def _stopping_event(app: object) -> anyio.Event | None:
    """The ``state.stopping`` event of an app built by ``build_app``, if ``app`` is one."""
    event = getattr(getattr(app, "state", None), "stopping", None)
    return event if isinstance(event, anyio.Event) else None


class HttpServer(uvicorn.Server):
    """uvicorn serving ``app`` as a task of the caller's event loop.

    The node owns the signals, so this server installs no handlers; stop it
    with :meth:`stop`. ``port`` 0 picks a free port: :attr:`port` tells which.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        )
        super().__init__(config)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it a response written in two
        # parts (headers, body) waits for the client's delayed ACK, ~40 ms each.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.bind((host, port))
        self.socket.set_inheritable(True)
        self.host = host
        self.port: int = self.socket.getsockname()[1]
        self.tls = certfile is not None or ssl_context is not None
        self._streams_stopping = _stopping_event(app)
        self._up = anyio.Event()
        self._down = anyio.Event()
        self.failure: BaseException | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._up.set()

    async def run_until_stopped(self) -> None:
        """Serve until :meth:`stop`; closes the listening socket at the end."""
        try:
            await self.serve(sockets=[self.socket])
        except (Exception, SystemExit) as exc:  # uvicorn exits on a failed startup
            self.failure = exc
        finally:
            self.socket.close()
            self._up.set()
            self._down.set()

    async def wait_started(self) -> None:
        """Wait until the server accepts connections; raises if it could not start."""
        await self._up.wait()
        if self.failure is not None or self._down.is_set():
            raise OSError(f"the HTTP server did not start: {self.failure!r}")

    def stop(self) -> None:
        """Ask the server to stop; open event streams of the app end at once."""
        self.should_exit = True
        if self._streams_stopping is not None:
            self._streams_stopping.set()

    async def shutdown_and_wait(self) -> None:
        """Stop accepting, finish the requests in flight, and wait until closed."""
        self.stop()
        await self._down.wait()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"
