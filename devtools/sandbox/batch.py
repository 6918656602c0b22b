"""Graph's `$batch`: the envelope's rules, the dependency shapes Graph accepts, and the sub-requests run in
waves on the server's event loop, each answered as a direct request would be (rows B1-B5, F3).

A sub-request goes through the routing's own `route` (`graph._answered`, handed in by `graph`), so it is
validated, authorised, throttled and answered exactly like a direct one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import jwt

from devtools.sandbox.answers import Result, error, ok
from devtools.sandbox.state import SandboxState
from devtools.sandbox.waves import run_wave

SERIAL_MESSAGE = "Batch should be either fully sequential or fully parallel"
# A request (state, method, target after /v1.0, headers with lower-case names, body, base URL) answered with its
# request ids: `graph._answered`.
Route = Callable[[SandboxState, str, str, dict, Any, str], Awaitable[Result]]


def batch_shape(requests: list[dict]) -> str | None:
    """parallel | serial | same, or None: the only dependency shapes Graph accepts (row B2).

    parallel: no sub-request has dependsOn; serial: one chain, each depending on the one
    before; same: every dependent names the same single sub-request, which depends on none.
    """
    deps = {str(r["id"]).casefold(): [str(d).casefold() for d in r.get("dependsOn") or []] for r in requests}
    dependents = {i: d for i, d in deps.items() if d}
    if not dependents:
        return "parallel"
    if any(len(d) != 1 for d in dependents.values()):
        return None
    roots = [i for i, d in deps.items() if not d]
    if len(roots) != 1:
        return None
    targets = [d[0] for d in dependents.values()]
    if set(targets) == {roots[0]}:
        return "same"  # two sub-requests, one depending on the other, are both "same" and "serial"
    if len(set(targets)) != len(targets):
        return None  # a fork: two sub-requests wait for the same one, but not for the root only
    chain, nxt = [roots[0]], {d[0]: i for i, d in dependents.items()}
    while chain[-1] in nxt:
        chain.append(nxt[chain[-1]])
    return "serial" if len(chain) == len(deps) else None


def _has_content_type(headers: Any) -> bool:
    """Does a sub-request's `headers` name Content-Type, in any case? Its usual spellings looked up first."""
    if type(headers) is dict and ("Content-Type" in headers or "content-type" in headers):
        return True
    return any(k.lower() == "content-type" for k in headers)


def _validate_batch(requests: Any) -> Result | None:
    """The envelope's rules (row B1), checked before anything runs."""
    if not isinstance(requests, list) or not requests:
        return error(400, "BadRequest", "Invalid batch payload format.")
    if len(requests) > 20:
        return error(400, "BadRequest", "The number of batch requests exceeds the limit of 20.")
    if any(not isinstance(r, dict) or not r.get("id") or not r.get("method") or not r.get("url") for r in requests):
        return error(400, "BadRequest", "Each batch request needs an id, a method and a url.")
    ids = {str(r["id"]).casefold() for r in requests}  # Graph compares ids case-insensitively
    if len(ids) != len(requests):
        return error(400, "BadRequest", "Batch request ids must be unique.")
    for r in requests:
        if r.get("body") is not None and not _has_content_type(r.get("headers") or {}):
            return error(400, "BadRequest", "Content-Type header must be specified for a request with a body.")
        if str(r["url"]).lower().startswith(("http://", "https://")):
            return error(400, "BadRequest", "Batch request urls must be relative to the version segment.")
        for dep in r.get("dependsOn") or []:
            if str(dep).casefold() not in ids:
                return error(400, "BadRequest", f"dependsOn refers to an unknown id '{dep}'.")
    if batch_shape(requests) is None:
        return error(400, "BadRequest", SERIAL_MESSAGE)
    return None


def _expire_envelope_token(state: SandboxState, headers: dict) -> None:
    """Fault: the token the envelope came with expires before its sub-requests run (row F3)."""
    with state.lock:
        if not state.faults.expire_token_in_batch:
            return
        state.faults.expire_token_in_batch = False
        token = headers.get("authorization", "")[7:].strip()
        state.revoked_tokens.add(jwt.decode(token, options={"verify_signature": False}).get("jti"))


async def run_batch(state: SandboxState, headers: dict, body: Any, base_url: str, route: Route) -> Result:
    """A `$batch` envelope's answer: 200 with every sub-request's answer (in any order, row B3), or the
    envelope refused (row B1). `headers`: the envelope's, lowered; each sub-request goes through `route`."""
    requests = (body or {}).get("requests") if isinstance(body, dict) else None
    refused = _validate_batch(requests)
    if refused:
        return refused
    state.counters.batch_calls += 1
    _expire_envelope_token(state, headers)
    by_id = {str(r["id"]).casefold(): r for r in requests}
    results: dict[str, dict] = {}
    needs = {k: [str(d).casefold() for d in r.get("dependsOn") or []] for k, r in by_id.items()}

    async def run(key: str) -> None:
        req = by_id[key]
        for d in needs[key]:
            if not 200 <= results[d]["status"] < 300:
                results[key] = {"id": req["id"], "status": 424, "headers": {},
                                "body": error(424, "FailedDependency", "A dependency failed.")[2]}
                return
        # Only the envelope's token carries over; every other header counts on the request that
        # carries it, so Prefer is not inherited from the envelope (row B4).
        sub_headers = {"authorization": headers.get("authorization", "")}
        for name, value in (req.get("headers") or {}).items():  # into one dict: a second per sub-request, merged, cost more
            sub_headers[name.lower()] = value
        url = str(req["url"])
        status, out_headers, out_body = await route(state, req["method"], url if url.startswith("/") else "/" + url,
                                                    sub_headers, req.get("body"), base_url)
        results[key] = {"id": req["id"], "status": status, "headers": out_headers, "body": out_body}

    # Ready sub-requests run in waves; how many at once is the execution setting (row B5).
    width = 4 if state.behaviour.batch_execution == "four_at_a_time" else 20
    place = {k: n for n, k in enumerate(by_id)}
    dependents: dict[str, list[str]] = {}
    for k, deps in needs.items():
        for d in deps:
            dependents.setdefault(d, []).append(k)
    ready = [k for k in by_id if not needs[k]]
    while ready:
        if len(ready) == 1:
            await run(ready[0])  # a chain runs one by one
        else:
            await run_wave(run, ready, width)
        # Next: the sub-requests whose last dependency just ran, in the batch's order.
        ready = [k for done in ready for k in dependents.get(done, ())
                 if k not in results and all(d in results for d in needs[k])]
        if len(ready) > 1:  # a chain's next is one: nothing to sort
            ready = sorted(set(ready), key=place.__getitem__)
    order = list(by_id)
    state.rng.shuffle(order)  # responses may come in any order (row B3)
    return ok(200, {"responses": [results[k] for k in order]})
