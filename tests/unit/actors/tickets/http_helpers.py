"""A Tickets actor behind the HTTP API on 127.0.0.1, for tests."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from actors import ActorSystem
from actors.roles.tickets import Tickets

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

httpx = pytest.importorskip("httpx", reason="the HTTP API tests need httpx (the dev extra)")
_http = pytest.importorskip(
    "actors.roles.tickets.http",
    reason="the HTTP API needs the http extra: pip install '.[http]' (starlette, uvicorn)",
)

TOKEN = "test-token-0123456789abcdef"


@contextlib.asynccontextmanager
async def served(
    *, max_body: int = 1 << 20, ledger: Any = None, clock: Any = None
) -> AsyncIterator[tuple[Any, Any]]:
    """An httpx client (bearer token set) and the Tickets ref, served on a free port."""
    async with ActorSystem("http", ledger=ledger, clock=clock) as system:
        tickets = await system.spawn(Tickets, ledger, name="tickets")
        server = _http.HttpServer(_http.build_app(tickets, TOKEN, max_body=max_body))
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.run_until_stopped)
            with anyio.fail_after(10):
                await server.wait_started()
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
                yield client, tickets
            await server.shutdown_and_wait()
