"""Microsoft Graph v1.0 subset: users, calendars, events, calendarView, $batch.

`dispatch()` is plain Python over `SandboxState`; the web layer calls it, and `$batch` (`batch.py`) the
same for each sub-request, so a sub-request is validated, authorised and throttled (`throttling.py`)
exactly like a direct one. Each behaviour names its row in docs/sandbox-fidelity.md, where the Microsoft source is given.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
import time
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devtools.sandbox.answers import GraphFault, Result, error, ok, stamp
from devtools.sandbox.batch import run_batch
from devtools.sandbox.categories import categories_route
from devtools.sandbox.directory import get_application
from devtools.sandbox.events import (
    check_properties,
    create_digest,
    parse_graph_dt,
    store_event,
    update_event,
    zone_of,
)
from devtools.sandbox.queries import matches, page_of, parse_expand, parse_filter
from devtools.sandbox.shown import check_select, created_json, event_json, expanded_properties, select_of
from devtools.sandbox.state import SandboxState
from devtools.sandbox.throttling import mailbox_call
from devtools.sandbox.tokens import TokenInvalid, verify_access_token

USER_DEFAULT_SELECT = ["id", "displayName", "mail", "userPrincipalName"]
USER_PROPS = USER_DEFAULT_SELECT + ["otherMails", "proxyAddresses", "accountEnabled", "assignedLicenses",
                                    "assignedPlans", "userType"]
PREFER_ZONE_RE = re.compile(r'outlook\.timezone="([^"]+)"')


# ---------------------------------------------------------------------- dispatch
async def dispatch(state: SandboxState, method: str, target: str, headers: dict, body: Any, base_url: str) -> Result:
    """Handle one Graph request; `target` is the path after /v1.0 with its query string. Runs on the server's
    event loop: the handlers are plain Python, only the latency is waited for (`mailbox_call`)."""
    return await _answered(state, method, target, {k.lower(): v for k, v in headers.items()}, body, base_url)


async def _answered(state: SandboxState, method: str, target: str, headers: dict, body: Any, base_url: str) -> Result:
    """`dispatch` of a request whose header names are lower case already (a `$batch` sub-request's): the answer
    with its request ids (row E1). One coroutine, `_route` a plain call returning the mailbox call to wait for: a
    coroutine per layer, made and resumed through on every sub-request, was a visible share of its CPU (issue 25)."""
    method = method.upper()
    segments, pairs, is_batch = _parsed_target(target)
    query = dict(pairs)
    try:
        claims, roles = _claims(state, headers.get("authorization", ""))
        if is_batch and method == "POST":
            result = await run_batch(state, headers, body, base_url, _answered)
        else:
            result = _route(state, method, segments, query, headers, body, claims, roles, base_url)
            if type(result) is not tuple:  # the mailbox call (`mailbox_call`), run in its slot
                result = await result
    except TokenInvalid as exc:
        result = error(401, "InvalidAuthenticationToken", str(exc))
    except GraphFault as fault:
        result = error(fault.status, fault.code, fault.message, fault.headers)
    return stamp(result, headers)


@functools.lru_cache(maxsize=16384)
def _parsed_target(target: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], bool]:
    """(the path's segments, each decoded on its own (row U1); the query's pairs; is it `/$batch`?) of a request
    target, worked out once per target: a mailbox's requests repeat theirs (urlsplit, parse_qsl and unquote per
    sub-request were a visible share of the emulator's CPU, issue 25)."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/") or "/"
    return (tuple(unquote(s) for s in path.split("/") if s), tuple(parse_qsl(parts.query, keep_blank_values=True)),
            unquote(path) == "/$batch")


# (signing key, Authorization header) -> (claims, signature checked; the roles claim as a set)
_VERIFIED: dict[tuple[str, str], tuple[dict, frozenset[str]]] = {}


def _claims(state: SandboxState, authorization: str) -> tuple[dict, frozenset[str]]:
    """`verify_access_token` with the signature and audience checked once per token: its expiry and
    revocation (row F3: a token revoked while its batch runs) on every request, as Entra's tokens are.
    With the claims, their roles as a set, made once per token (nothing changes a token's claims)."""
    key = (state.signing_key, authorization)
    known = _VERIFIED.get(key)
    if known is None:
        claims = verify_access_token(state, authorization)
        if len(_VERIFIED) > 4096:
            _VERIFIED.clear()
        known = _VERIFIED[key] = (claims, frozenset(claims.get("roles") or []))
    elif known[0]["exp"] <= time.time() or known[0].get("jti") in state.revoked_tokens:
        raise TokenInvalid("Lifetime validation failed, the token is expired.")
    return known


def _asks_immutable_id(headers: dict) -> bool:
    prefer = headers.get("prefer", "")
    return _immutable_asked(prefer) if type(prefer) is str else 'idtype="immutableid"' in prefer.replace(" ", "").lower()


@functools.lru_cache(maxsize=256)
def _immutable_asked(prefer: str) -> bool:
    """`_asks_immutable_id` of a `Prefer` header's text, worked out once per text."""
    return 'idtype="immutableid"' in prefer.replace(" ", "").lower()


@functools.lru_cache(maxsize=256)
def _zone_asked(prefer: str) -> str | None:
    """The zone a `Prefer` header's outlook.timezone names (None: none), worked out once per header text; GraphFault
    (not remembered) for a zone Graph does not know, each time it is asked."""
    match = PREFER_ZONE_RE.search(prefer)
    if match:
        zone_of(match.group(1))
        return match.group(1)
    return None


def _route(state, method, segments, query, headers, body, claims, roles, base_url) -> Result | Awaitable[Result]:
    """The answer, or for a mailbox the call to wait for (`mailbox_call`: its slot, its latency, then the answer)."""
    head = segments[0].lower() if segments else ""
    if head.startswith("applications") and method == "GET":
        return ok(200, get_application(state, segments, query, set(roles)))  # row K2
    if head != "users":
        return error(400, "BadRequest", f"Resource not found for the segment '{segments[0] if segments else ''}'.")
    if len(segments) == 1:
        if method != "GET":
            return error(405, "Request_BadRequest", "Method not allowed.")
        if not roles & {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}:
            return error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        return ok(200, _list_users(state, query, base_url))
    user = state.find_user(segments[1])
    if user is None:
        return error(404, "ErrorInvalidUser", f"The requested user '{segments[1]}' is invalid.")
    if len(segments) == 2:
        if not roles & {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}:
            return error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        return ok(200, _select_user(user, query))
    # Everything below is a mailbox call. Exchange grants the union of the tenant-wide Entra consent
    # (narrowed by an application access policy) and RBAC for Applications role assignments (row A2).
    app = state.apps.get(claims.get("appid"))
    settings = segments[2].lower() == "outlook"  # the category list: MailboxSettings, not Calendars (row G1)
    read, write = ("MailboxSettings.Read", "MailboxSettings.ReadWrite") if settings else (
        "Calendars.Read", "Calendars.ReadWrite")
    consented = bool(roles & {read, write}) and (method == "GET" or write in roles)
    # The RBAC role assignment of this emulation is "Application Calendars.ReadWrite" (row A2).
    in_rbac_scope = bool(app and app.rbac_user_ids is not None and user.id in app.rbac_user_ids) and not settings
    if not consented and not in_rbac_scope:
        return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    if not in_rbac_scope and app and app.policy_user_ids is not None and user.id not in app.policy_user_ids:
        return error(403, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant configured "
                     "AppOnly AccessPolicy settings.")
    if not user.has_mailbox:
        return error(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is "
                     "hosted on-premise.")
    if not _asks_immutable_id(headers):
        with state.lock:
            state.counters.without_immutable_id += 1
    return mailbox_call(state, user.id, "read" if method == "GET" else "write",
                        lambda: _mailbox_route(state, user, method, segments[2:], query, headers, body, base_url))


def _list_users(state: SandboxState, query: dict, base_url: str) -> dict:
    users = sorted(state.users.values(), key=lambda u: u.userPrincipalName)
    items = [_select_user(u, query) for u in users]
    return page_of(items, query, base_url, "/users", 100, 999, opaque=True)


def _select_user(user, query: dict) -> dict:
    select = select_of(query) or USER_DEFAULT_SELECT
    unknown = [s for s in select if s not in USER_PROPS]
    if unknown:
        raise GraphFault(400, "Request_BadRequest", f"Could not find a property named '{unknown[0]}' on type "
                         "'Microsoft.DirectoryServices.User'.")
    raw = user.as_graph()
    return {k: copy.deepcopy(raw.get(k)) for k in select if k in USER_PROPS} | {"id": user.id}


def _calendar(state: SandboxState, user_id: str, calendar_id: str | None) -> dict:
    if calendar_id is None:
        return state.default_calendar(user_id)
    cal = state.calendars.get(user_id, {}).get(calendar_id)
    if not cal:
        raise GraphFault(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return cal


def _mailbox_route(state, user, method, rest, query, headers, body, base_url) -> Result:
    zone = _zone_asked(headers.get("prefer", ""))
    calendar_id = None
    if len(rest) >= 2 and rest[0].lower() == "outlook" and rest[1].lower() == "mastercategories":
        status, answer = categories_route(state, user.id, method, rest[2:], body)
        return (status, {}, None) if status == 204 else ok(status, answer)
    if rest and rest[0].lower() == "calendar":
        rest = rest[1:]
        if not rest:
            cal = state.default_calendar(user.id)
            if method == "PATCH":
                return ok(200, _select_cal(_update_calendar(state, cal, body), {}))
            return ok(200, _select_cal(cal, query))
    elif rest and rest[0].lower() == "calendars":
        if len(rest) == 1:
            if method == "GET":
                clauses = parse_filter(query["$filter"]) if query.get("$filter") else []
                if any(c[0] != "tag" for c in clauses):
                    raise GraphFault(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more "
                                     "invalid nodes.")
                cals = [_select_cal(c, query) for c in state.calendars.get(user.id, {}).values() if matches(c, clauses)]
                return ok(200, page_of(cals, query, base_url, f"/users/{user.id}/calendars", 10, 1000))
            if method == "POST":
                return ok(201, _create_calendar(state, user.id, body))
            return error(405, "ErrorInvalidRequest", "Method not allowed.")
        calendar_id = rest[1]
        _calendar(state, user.id, calendar_id)
        rest = rest[2:]
        if not rest:
            if method == "PATCH":
                return ok(200, _select_cal(_update_calendar(state, _calendar(state, user.id, calendar_id), body), {}))
            return ok(200, _select_cal(_calendar(state, user.id, calendar_id), query))
    if not rest:
        return error(400, "BadRequest", "Unsupported path.")
    cal = _calendar(state, user.id, calendar_id)
    head = rest[0].lower()
    if head == "calendarview" and method == "GET":
        return ok(200, _calendar_view(state, user.id, cal["id"], query, zone, base_url, rest))
    if head != "events":
        return error(400, "BadRequest", f"Resource not found for the segment '{rest[0]}'.")
    events = state.events.setdefault(user.id, {})
    if len(rest) == 1:
        if method == "GET":
            return ok(200, _list_events(state, user.id, cal, query, zone, base_url, calendar_id))
        if method == "POST":
            return _create(state, user.id, cal["id"], body, zone)
        return error(405, "ErrorInvalidRequest", "Method not allowed.")
    event = events.get(rest[1])
    if event is None or (calendar_id and event["_calendar"] != calendar_id):
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    if method == "GET":
        return ok(200, event_json(event, _event_select(query), parse_expand(query.get("$expand")), zone))
    if method == "PATCH":
        return ok(200, event_json(update_event(state, user.id, event, body or {}), None, None, zone))
    if method == "DELETE":
        with state.lock:
            events.pop(event["id"], None)
        return 204, {}, None
    return error(405, "ErrorInvalidRequest", "Method not allowed.")


def _event_select(query: dict) -> list[str] | None:
    select = select_of(query)
    check_select(select)
    return select


def _select_cal(cal: dict, query: dict) -> dict:
    """A calendar as Graph shows it; extended properties only when expanded (row C1)."""
    select = select_of(query)
    shown = {k: v for k, v in cal.items() if not k.startswith("_") and (not select or k in select or k == "id")}
    expand_ids = parse_expand(query.get("$expand"))
    if expand_ids:
        shown["singleValueExtendedProperties"] = expanded_properties(cal.get("_props", {}), expand_ids)
    return shown


CALENDAR_WRITABLE = {"name", "color", "hexColor", "singleValueExtendedProperties"}


def _update_calendar(state: SandboxState, cal: dict, body: Any) -> dict:
    """PATCH a calendar: name, colour and single-value extended properties, which a calendar carries
    as an event does (singlevaluelegacyextendedproperty-post-singlevalueextendedproperties, row C1)."""
    body = body if isinstance(body, dict) else {}
    unknown = sorted(set(body) - CALENDAR_WRITABLE)
    if unknown:
        raise GraphFault(400, "RequestBodyRead", f"The property '{unknown[0]}' does not exist on type "
                         "'microsoft.graph.calendar'.")
    with state.lock:
        for key, value in body.items():
            if key == "singleValueExtendedProperties":
                cal.setdefault("_props", {}).update({p["id"]: p.get("value") for p in value or []})
            else:
                cal[key] = value
        cal["changeKey"] = state.change_key()
        return cal


def _create_calendar(state: SandboxState, user_id: str, body: Any) -> dict:
    name = (body or {}).get("name") if isinstance(body, dict) else None
    if not name:
        raise GraphFault(400, "ErrorInvalidRequest", "The calendar name is required.")
    with state.lock:
        cals = state.calendars.setdefault(user_id, {})
        if any(c["name"].casefold() == name.casefold() for c in cals.values()):
            raise GraphFault(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        cal_id = state.new_id("AAMkCal")
        cals[cal_id] = {"id": cal_id, "name": name, "isDefaultCalendar": False, "changeKey": state.change_key(),
                        "_props": {p["id"]: p.get("value") for p in body.get("singleValueExtendedProperties") or []}}
        return _select_cal(cals[cal_id], {})


def _create(state: SandboxState, user_id: str, calendar_id: str, body: Any, zone: str | None) -> Result:
    check_properties(body)
    txn = body.get("transactionId")
    with state.lock:
        known = state.transactions.get((user_id, txn)) if txn else None
        existing = state.events.get(user_id, {}).get(known[0]) if known else None
    if known:
        # Reused with another body: refused (row X1). With the same body Graph's answer is not
        # documented: the first event, or the same refusal (row X2, a setting).
        if create_digest(known[1]) != create_digest(body) or state.behaviour.duplicate_transaction == "error":
            raise GraphFault(400, "ErrorDuplicateTransactionId",
                             f"The transaction id '{txn}' was already used to create another item in this mailbox.")
        if existing is not None:
            return ok(201, event_json(existing, None, None, zone))
    event = store_event(state, user_id, calendar_id, body, checked=True)  # checked above
    return ok(201, created_json(event, zone))


def _list_events(state, user_id, cal, query, zone, base_url, calendar_id) -> Result:
    clauses = parse_filter(query["$filter"]) if query.get("$filter") else []
    expand = parse_expand(query.get("$expand"))
    select = _event_select(query)
    with state.lock:
        events = [e for e in state.events.get(user_id, {}).values() if e["_calendar"] == cal["id"]]
        chosen = sorted((e for e in events if matches(e, clauses)), key=lambda e: (e["_start_utc"], e["id"]))
        path = f"/users/{user_id}/calendars/{calendar_id}/events" if calendar_id else f"/users/{user_id}/events"
        return page_of(chosen, query, base_url, path, 10, 1000, lambda e: event_json(e, select, expand, zone))


def _calendar_view(state, user_id, calendar_id, query, zone, base_url, rest) -> dict:
    try:
        start = parse_graph_dt(query["startDateTime"]).replace(tzinfo=dt.UTC)
        end = parse_graph_dt(query["endDateTime"]).replace(tzinfo=dt.UTC)
    except KeyError:
        raise GraphFault(400, "ErrorInvalidParameter", "This request requires a time window specified by the query "
                         "string parameters StartDateTime and EndDateTime.") from None
    if (end - start).days > 1825:
        raise GraphFault(400, "ErrorInvalidParameter", "The time window must not exceed 1825 days.")
    # Extended properties cannot be filtered or expanded on calendarView: Graph answers 500 (row Q1).
    if any("singlevalueextendedproperties" in query.get(k, "").lower() for k in ("$filter", "$expand")):
        raise GraphFault(500, "ErrorInternalServerError", "An internal server error occurred. The operation failed.")
    select = _event_select(query)
    with state.lock:
        events = [e for e in state.events.get(user_id, {}).values()
                  if e["_calendar"] == calendar_id and e["_start_utc"] < end and e["_end_utc"] > start]
        chosen = sorted(events, key=lambda e: (e["_start_utc"], e["id"]))
        return page_of(chosen, query, base_url, f"/users/{user_id}/calendarView", 10, None,
                     lambda e: event_json(e, select, None, zone), opaque=True)
