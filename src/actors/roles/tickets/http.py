"""The tickets' JSON API over HTTP, for agents that only speak HTTP.

Starlette routes served by uvicorn *inside the node's event loop* (a task of
the node's task group, never a second loop or thread: :class:`HttpServer`, here
for convenience, is :class:`actors.web.HttpServer`; the node mounts this app
under ``/api`` of its listener); bodies are decoded and encoded with msgspec.
Needs the ``http`` extra (``pip install '.[http]'``).

Every error is ``{"error": {"code": ..., "message": ..., "field": ...}}`` with a
stable code: 400 ``bad_request`` (names the field), 401 ``unauthorized``, 404
``not_found``, 405 ``method_not_allowed``, 409 ``claim_lost``, 413
``too_large``, 503 ``unavailable``. :data:`ROUTES` is the one list of routes:
the app and the OpenAPI document (``GET /api/openapi.json``) are both built
from it.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Final

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Route

from actors import ActorError
from actors.web import HttpServer as HttpServer

from ._messages import (
    Accepted,
    Claim,
    ClaimGrant,
    CreateRun,
    GetConcerns,
    GetStatus,
    GetTicket,
    ListRuns,
    NoWork,
    Refusal,
    Renew,
    RunCreatedReply,
    Submit,
)
from ._model import Concern, Input, Outcome, Pipeline, RunStatus, Ticket

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from actors import ActorRef

__all__ = ("DEFAULT_MAX_BODY", "ROUTES", "HttpServer", "build_app", "openapi")

DEFAULT_MAX_BODY: Final = 1 << 20
"""Largest request body accepted (bytes); a bigger one gets 413."""

ASK_TIMEOUT: Final = 30.0


# -- bodies ---------------------------------------------------------------------------


class CreateRunBody(msgspec.Struct, forbid_unknown_fields=True):
    pipeline: Pipeline
    inputs: list[Input]


class ClaimBody(msgspec.Struct, forbid_unknown_fields=True):
    worker_type: str
    worker_id: str


class RenewBody(msgspec.Struct, forbid_unknown_fields=True):
    ticket: str
    token: int


class SubmitBody(msgspec.Struct, forbid_unknown_fields=True):
    ticket: str
    token: int
    outcome: Outcome = "completed"
    output: Any = None  # Any: the worker's JSON result
    concerns: list[Concern] = msgspec.field(default_factory=list)


class RunCreatedOut(msgspec.Struct):
    run: str
    tickets: list[str]


class RunOut(msgspec.Struct):
    run: str
    stages: list[str]
    tickets: int
    done: bool


class ClaimOut(msgspec.Struct):
    ticket: Ticket | None
    token: int | None = None
    lease_ttl: float | None = None


class SubmitOut(msgspec.Struct):
    ticket: str
    downstream: list[str]


class ConcernOut(msgspec.Struct):
    ticket: str
    level: str
    message: str
    suggestion: str | None


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    field: str | None = None


class ErrorOut(msgspec.Struct):
    error: ErrorDetail


class _Failure(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = ErrorDetail(code, message, field)


_json = msgspec.json.Encoder()


def _respond(value: object, status: int = 200) -> Response:
    return Response(_json.encode(value), status, media_type="application/json")


def _error(status: int, code: str, message: str, field: str | None = None) -> Response:
    return _respond(ErrorOut(ErrorDetail(code, message, field)), status)


def _field_of(message: str) -> str | None:
    """The field a msgspec validation error names, as ``inputs[0].source``."""
    # msgspec says "Expected `str`, got `int` - at `$.inputs[0].source`", or
    # "Object missing required field `source` - at `$.inputs[0]`" (the field is
    # in the first quotes then), or "... unknown field `x`".
    path = ""
    marker = "at `$"
    if marker in message:
        path = message.split(marker, 1)[1].split("`", 1)[0].lstrip(".")
    for phrase in ("missing required field `", "unknown field `"):
        if phrase in message:
            name = message.split(phrase, 1)[1].split("`", 1)[0]
            if not name:  # an empty key: name the object that holds it
                return path or "$"
            return f"{path}.{name}" if path else name
    return path or "$"


class _Api:
    def __init__(self, tickets: ActorRef[Any], token: str, max_body: int) -> None:
        self.tickets = tickets
        self.token = token.encode()
        self.max_body = max_body

    async def body(self, request: Request, kind: type[Any]) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise _Failure(413, "too_large", f"the body is over {self.max_body} bytes")
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise _Failure(413, "too_large", f"the body is over {self.max_body} bytes")
            chunks.append(chunk)
        data = b"".join(chunks)
        if not data:
            raise _Failure(400, "bad_request", "the body is empty: a JSON object is expected", "$")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Failure(
                400, "bad_request", f"the body is not UTF-8 (byte {exc.start})", "$"
            ) from None
        try:
            return msgspec.json.decode(data, type=kind)
        except msgspec.ValidationError as exc:
            text = str(exc)
            raise _Failure(400, "bad_request", text, _field_of(text)) from None
        except msgspec.DecodeError as exc:
            raise _Failure(400, "bad_request", f"the body is not JSON: {exc}", "$") from None

    async def ask(self, message: Any) -> Any:
        try:
            reply = await self.tickets.ask(message, timeout=ASK_TIMEOUT)
        except ActorError as exc:
            raise _Failure(503, "unavailable", f"the tickets actor did not answer: {exc}") from None
        if isinstance(reply, Refusal):
            raise _Failure(reply.status, reply.code, reply.message, reply.field)
        return reply

    def wrap(
        self, handler: Callable[[Request], Awaitable[object]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            scheme, _, credential = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                credential.strip().encode(), self.token
            ):
                return _error(
                    401, "unauthorized", "a valid 'Authorization: Bearer <token>' is required"
                )
            try:
                return _respond(await handler(request))
            except _Failure as failure:
                return _respond(ErrorOut(failure.detail), failure.status)

        return endpoint

    # -- handlers --------------------------------------------------------------------

    async def create_run(self, request: Request) -> object:
        body: CreateRunBody = await self.body(request, CreateRunBody)
        reply: RunCreatedReply = await self.ask(CreateRun(body.pipeline, body.inputs))
        return RunCreatedOut(reply.run, reply.tickets)

    async def list_runs(self, request: Request) -> object:
        return [RunOut(r.run, r.stages, r.tickets, r.done) for r in await self.ask(ListRuns())]

    async def status(self, request: Request) -> object:
        reply: RunStatus = await self.ask(GetStatus(request.path_params["run"]))
        return reply

    async def claim(self, request: Request) -> object:
        body: ClaimBody = await self.body(request, ClaimBody)
        reply = await self.ask(Claim(body.worker_type, body.worker_id, request.path_params["run"]))
        if isinstance(reply, NoWork):
            return ClaimOut(None)
        grant: ClaimGrant = reply
        return ClaimOut(grant.ticket, grant.token, grant.lease_ttl)

    async def renew(self, request: Request) -> object:
        body: RenewBody = await self.body(request, RenewBody)
        grant: ClaimGrant = await self.ask(
            Renew(body.ticket, body.token, request.path_params["run"])
        )
        return ClaimOut(grant.ticket, grant.token, grant.lease_ttl)

    async def submit(self, request: Request) -> object:
        body: SubmitBody = await self.body(request, SubmitBody)
        reply: Accepted = await self.ask(
            Submit(
                body.ticket,
                body.token,
                body.outcome,
                body.output,
                tuple(body.concerns),
                request.path_params["run"],
            )
        )
        return SubmitOut(reply.ticket, reply.downstream)

    async def concerns(self, request: Request) -> object:
        level = request.query_params.get("level")
        reply = await self.ask(GetConcerns(request.path_params["run"], level))
        return [
            ConcernOut(c.ticket, c.concern.level, c.concern.message, c.concern.suggestion)
            for c in reply
        ]

    async def ticket(self, request: Request) -> object:
        reply: Ticket = await self.ask(
            GetTicket(request.path_params["run"], request.path_params["ticket"])
        )
        return reply


class RouteSpec(msgspec.Struct, frozen=True):
    method: str
    path: str
    handler: str
    summary: str
    body: Any = None  # Any: a body Struct type, or None
    reply: Any = None  # Any: the reply type expression


ROUTES: Final[tuple[RouteSpec, ...]] = (
    RouteSpec("POST", "/api/runs", "create_run", "Create a run", CreateRunBody, RunCreatedOut),
    RouteSpec("GET", "/api/runs", "list_runs", "List runs", None, list[RunOut]),
    RouteSpec("GET", "/api/runs/{run}/status", "status", "A run's status", None, RunStatus),
    RouteSpec(
        "POST",
        "/api/runs/{run}/claim",
        "claim",
        "Claim the oldest pending ticket",
        ClaimBody,
        ClaimOut,
    ),
    RouteSpec("POST", "/api/runs/{run}/renew", "renew", "Renew a claim", RenewBody, ClaimOut),
    RouteSpec("POST", "/api/runs/{run}/submit", "submit", "Submit a result", SubmitBody, SubmitOut),
    RouteSpec(
        "GET", "/api/runs/{run}/concerns", "concerns", "A run's concerns", None, list[ConcernOut]
    ),
    RouteSpec("GET", "/api/runs/{run}/tickets/{ticket}", "ticket", "One ticket", None, Ticket),
)
"""Every route of the API; the app and :func:`openapi` are built from this list."""

_ERRORS: Final = {
    "400": "bad_request: the body or a parameter is wrong (``field`` names it)",
    "401": "unauthorized: missing or wrong bearer token",
    "404": "not_found: no such run or ticket",
    "409": "claim_lost: the claim was fenced off (expired or reclaimed)",
    "413": "too_large: the body is over the limit",
}


def openapi() -> dict[str, Any]:  # Any: a JSON document
    """The OpenAPI 3.1 document of :data:`ROUTES`."""
    types: list[Any] = [ErrorOut]
    for route in ROUTES:
        types.extend(t for t in (route.body, route.reply) if t is not None)
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    by_type = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        operation: dict[str, Any] = {
            "operationId": route.handler,
            "summary": route.summary,
            "security": [{"bearer": []}],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in ("run", "ticket")
                if "{" + name + "}" in route.path
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": by_type[route.reply]}},
                },
                **{
                    code: {
                        "description": text,
                        "content": {"application/json": {"schema": by_type[ErrorOut]}},
                    }
                    for code, text in _ERRORS.items()
                },
            },
        }
        if route.handler == "concerns":
            operation["parameters"].append(
                {
                    "name": "level",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["info", "review", "error"]},
                }
            )
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": by_type[route.body]}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tadpole tickets", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def build_app(tickets: ActorRef[Any], token: str, *, max_body: int = DEFAULT_MAX_BODY) -> Starlette:
    """The Starlette app of the tickets API in front of the ``tickets`` actor.

    ``token`` is the bearer token every request must carry (the node passes its
    ``http_token``, else the cluster secret in hex).
    """
    if not token:
        raise ValueError("the HTTP API needs a non-empty bearer token")
    if max_body <= 0:
        raise ValueError(f"max_body must be > 0 bytes, not {max_body!r}")
    api = _Api(tickets, token, max_body)
    document = _json.encode(openapi())

    async def spec(request: Request) -> Response:
        return Response(document, media_type="application/json")

    routes = [
        Route(r.path, api.wrap(getattr(api, r.handler)), methods=[r.method], name=r.handler)
        for r in ROUTES
    ]
    routes.append(Route("/api/openapi.json", spec, methods=["GET"], name="openapi"))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return _error(status, code, f"{request.method} {request.url.path}: {detail}")

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
