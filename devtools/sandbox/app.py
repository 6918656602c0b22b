"""The ASGI app: Entra ID, Graph, openHandwerk and the inspection API on one port."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl

import jwt
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from devtools.sandbox import answers, control, entra, graph, jsontext, openhandwerk
from devtools.sandbox import oh_fields as f
from devtools.sandbox.fleet import Fleet
from devtools.sandbox.shown import encode_json
from devtools.sandbox.state import Behaviour, Faults, SandboxState

ALL = ["GET", "POST", "PATCH", "DELETE", "PUT"]


def _json(status: int, body: Any, headers: dict | None = None) -> Response:
    if status == 204 or body is None:
        return Response(status_code=status, headers={k: v for k, v in (headers or {}).items()
                                                     if k.lower() != "content-type"})
    return JSONResponse(body, status_code=status, headers={k: v for k, v in (headers or {}).items()
                                                           if k.lower() != "content-type"})


def _graph_answer(status: int, body: Any, headers: dict) -> Response:
    """A Graph answer: its body encoded as `_json` would, with every event's JSON text (jsontext.RawJSON) spliced in."""
    if status == 204 or body is None:
        return _json(status, body, headers)
    return Response(encode_json(body), status_code=status, media_type="application/json",
                    headers={k: v for k, v in headers.items() if k.lower() != "content-type"})


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return jsontext.decode(raw)  # json.loads, by msgspec where it reads the same
    except ValueError:
        return {"__invalid__": True}


def _faults(given: Any) -> Faults:
    """Faults from a control call: a dict of `Faults` fields or a profile name ("flaky", "harsh")."""
    return Faults(**given) if isinstance(given, dict) else Faults.profile(given)


def _sent_path(request: Request, prefix: str, decoded: str) -> str:
    """The path after `prefix` as sent, still percent-encoded: Graph (and the openHandwerk emulation)
    decode each segment on its own, so an encoded "/" inside an id never splits it (row U1)."""
    raw = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
    return raw.split(prefix, 1)[1].lstrip("/") if prefix in raw else decoded


# A proxy's page for a service that is down (nginx's built-in 503 page; fidelity row N2): not openHandwerk's envelope.
OH_DOWN_PAGE = ("<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
                "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
                "</body>\r\n</html>\r\n")
_CLAIM_CACHE: dict[str, dict] = {}  # bearer token -> its claims, unverified (only to pick the tenant)


def _peek(authorization: str) -> dict:
    """The claims of a bearer token without checking its signature: only to choose the tenant that then
    verifies it as usual. {} when there is no token or it is not a JWT."""
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    claims = _CLAIM_CACHE.get(token)
    if claims is None:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            claims = {}
        if len(_CLAIM_CACHE) > 4096:
            _CLAIM_CACHE.clear()
        _CLAIM_CACHE[token] = claims if isinstance(claims, dict) else {}
    return claims


def graph_tenant(fleet: Fleet, authorization: str) -> SandboxState:
    """The tenant a Graph request goes to: the access token's `tid` (row N1). A token naming no tenant of the
    fleet goes to the first, whose signature check refuses it (401 InvalidAuthenticationToken, as today)."""
    tid = _peek(authorization).get("tid")
    return (fleet.by_tenant_id(tid) if isinstance(tid, str) else None) or fleet.first


def oh_tenant(fleet: Fleet, path: str, headers: dict, body: Any) -> SandboxState:
    """The tenant an openHandwerk request goes to: the login's Kundennummer, then the token's `idKn`.
    Unknown ones go to the first tenant, which refuses them (401) as a wrong login or token."""
    if path.strip("/") == "auth/login":
        id_kn = body.get(f.LOGIN_ID_KN) if isinstance(body, dict) else None
    else:
        id_kn = _peek(headers.get("authorization", "")).get("idKn")
    return (fleet.by_id_kn(id_kn) if id_kn is not None else None) or fleet.first


class GraphFirst:
    """The ASGI app: a Graph request (`/v1.0/...`, one of `ALL`'s methods) goes straight to its route, every other
    request to the FastAPI app (`app`). Starlette's middleware and router matching per Graph request were the
    larger part of the web layer's share of the emulator's CPU (issue 25); what a client sees is the same: the
    route's answer as it writes it, and an error inside it answered 500 by uvicorn, as by Starlette's middleware."""

    def __init__(self, app: FastAPI, graph_api) -> None:
        self.app, self._graph_api = app, graph_api

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1.0/") and scope["method"] in ALL:
            request = Request({**scope, "path_params": {"path": scope["path"][len("/v1.0/"):]}}, receive)
            response = await self._graph_api(request)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(state: SandboxState | Fleet) -> GraphFirst:
    """The sandbox's routes over one tenant (a SandboxState) or many (a Fleet): an ASGI app (`GraphFirst`, its
    FastAPI app as `.app`)."""
    fleet = state if isinstance(state, Fleet) else Fleet.single(state)
    app = FastAPI(title="oh-outlook-provider sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def chosen(request: Request) -> SandboxState | Response:
        """The tenant of an inspection route: `?tenant=<key or tenant id>`, the first without."""
        ident = request.query_params.get("tenant")
        found = fleet.get(ident)
        return found if found is not None else _json(404, {"error": f"unknown tenant {ident}", "tenants": fleet.keys})

    @app.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def openid(tenant: str, request: Request) -> Response:
        status, body = entra.discovery(fleet.by_tenant_id(tenant) or fleet.first, base(request), tenant)
        return _json(status, body)

    @app.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        state = fleet.by_tenant_id(tenant) or fleet.first
        status, body = await run_in_threadpool(entra.token, state, base(request), tenant, form)
        return _json(status, body)

    # The two routes every client request takes are Starlette's own (FastAPI's parameter solving per request
    # was a visible share of the emulator's CPU, issue 25); the others stay FastAPI's, with their docs. Graph's
    # also skips the middleware and the router (`GraphFirst`).
    async def graph_api(request: Request) -> Response:
        path = request.path_params["path"]
        body = await _body(request)
        if isinstance(body, dict) and body.get("__invalid__"):
            status, headers, out = answers.error(400, "BadRequest", "Unable to read JSON request payload.")
            return _json(status, out, headers)
        state = graph_tenant(fleet, request.headers.get("authorization", ""))
        state.counters.http_requests += 1
        path = _sent_path(request, "/v1.0", path)
        target = "/" + path + (f"?{request.url.query}" if request.url.query else "")
        status, headers, out = await graph.dispatch(state, request.method, target, dict(request.headers), body,
                                                    base(request) + "/v1.0")
        return _graph_answer(status, out, headers)

    app.add_route("/v1.0/{path:path}", graph_api, methods=ALL, include_in_schema=False)
    graph_first = GraphFirst(app, graph_api)

    async def oh_api(request: Request) -> Response:
        path = request.path_params["path"]
        body = await _body(request)
        path = _sent_path(request, "/openhandwerk", path)
        headers = {k.lower(): v for k, v in request.headers.items()}
        state = oh_tenant(fleet, path, headers, body)
        if state.faults.oh_down:  # the tenant's openHandwerk is down: its proxy answers (row N2)
            with state.lock:
                state.counters.oh_requests += 1
                state.counters.faults["oh_down"] += 1
            return Response(OH_DOWN_PAGE, status_code=503, media_type="text/html")
        status, raw = await run_in_threadpool(
            openhandwerk.respond, state, request.method, path, dict(request.query_params), headers, body,
        )
        return Response(raw, status_code=status, media_type="application/json")

    app.add_route("/openhandwerk/{path:path}", oh_api, methods=ALL, include_in_schema=False)

    @app.get("/_sandbox/fleet")
    async def fleet_summary() -> Response:
        return _json(200, {"tenants": fleet.summary()})

    @app.get("/_sandbox/stats")
    async def stats(request: Request) -> Response:
        state = chosen(request)
        return state if isinstance(state, Response) else _json(200, state.stats())

    @app.post("/_sandbox/reset-counters")
    async def reset(request: Request) -> Response:
        state = chosen(request)
        if isinstance(state, Response):
            return state
        state.reset_counters()
        return _json(200, {"ok": True})

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> Response:
        """The tenant's faults replaced (a Faults dict or a profile name), its data kept (reload starts over)."""
        state = chosen(request)
        if isinstance(state, Response):
            return state
        faults = _faults(await _body(request) or {})
        with state.lock:
            state.faults = faults
        return _json(200, {"ok": True, "tenant": state.key, "faults": vars(faults)})

    @app.post("/_sandbox/reload")
    async def reload(request: Request) -> Response:
        state = chosen(request)
        if isinstance(state, Response):
            return state
        body = await _body(request) or {}
        if "faults" in body:
            body["faults"] = _faults(body["faults"])
        if "behaviour" in body:
            body["behaviour"] = Behaviour(**body["behaviour"])
        if "base_date" in body:
            body["base_date"] = dt.date.fromisoformat(body["base_date"])
        mistake = body.pop("mistake", None)  # a setup mistake (control.MISTAKES) made in the fresh tenant
        if mistake is not None and mistake not in control.MISTAKES:
            return _json(400, {"error": f"unknown mistake {mistake}", "mistakes": sorted(control.MISTAKES)})
        await run_in_threadpool(state.reload, **body)
        connection = control.make_mistake(state, mistake) if mistake else {}
        return _json(200, {"ok": True, "employees": len(state.employees), "appointments": len(state.appointments),
                           "connection": connection})

    @app.get("/_sandbox/setup-mistakes")
    async def setup_mistakes() -> Response:
        return _json(200, {name: " ".join((change.__doc__ or "").split()) for name, change in control.MISTAKES.items()})

    @app.post("/_sandbox/setup-mistakes/{name}")
    async def setup_mistake(name: str, request: Request) -> Response:
        """One failure of the setup checklist: made in the tenant, or the connection values to type (answered)."""
        state = chosen(request)
        if isinstance(state, Response):
            return state
        if name not in control.MISTAKES:
            return _json(404, {"error": f"unknown mistake {name}", "mistakes": sorted(control.MISTAKES)})
        return _json(200, {"ok": True, "mistake": name, "connection": control.make_mistake(state, name)})

    @app.post("/_sandbox/churn")
    async def churn(request: Request) -> Response:
        state = chosen(request)
        if isinstance(state, Response):
            return state
        body = await _body(request) or {}
        return _json(200, control.churn(state, float(body.get("fraction", 0.1)), int(body.get("seed", 1))))

    @app.get("/_sandbox/mailboxes/{user}/events")
    async def mailbox_events(user: str, request: Request) -> Response:
        state = chosen(request)
        if isinstance(state, Response):
            return state
        events = state.mailbox_events(user)
        return _json(200, {"value": [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in e.items()} for e in events
        ]})

    @app.post("/_sandbox/outlook/{action}")
    async def outlook(action: str, request: Request) -> Response:
        state = chosen(request)
        if isinstance(state, Response):
            return state
        body = await _body(request) or {}
        if action == "edit":
            control.outlook_edit(state, body["user"], body["event_id"], body["changes"])
        elif action == "delete":
            control.outlook_delete(state, body["user"], body["event_id"])
        else:
            return _json(404, {"error": f"unknown action {action}"})
        return _json(200, {"ok": True})

    @app.post("/_sandbox/openhandwerk/{action}")
    async def oh_change(action: str, request: Request) -> Response:
        state = chosen(request)
        if isinstance(state, Response):
            return state
        body = await _body(request) or {}
        result = control.oh_change(state, action, body.pop("appointment_id", None), **body)
        return _json(200, {"ok": True, "appointment": result})

    return graph_first
