"""Microsoft Graph v1.0 subset: users, calendars, events, calendarView, $batch.

`dispatch()` is plain Python over `SandboxState`; the web layer and `$batch` both call it,
so a sub-request is validated, authorised and throttled exactly like a direct one. Each
behaviour names its row in docs/sandbox-fidelity.md, where the Microsoft source is given.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import datetime as dt
import functools
import hashlib
import math
import operator
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import jwt

from devtools.sandbox.categories import categories_route
from devtools.sandbox.directory import get_application
from devtools.sandbox.events import (
    GraphFault,
    check_properties,
    check_select,
    create_digest,
    created_json,
    event_json,
    expanded_properties,
    parse_graph_dt,
    select_of,
    store_event,
    update_event,
    zone_of,
)
from devtools.sandbox.state import SandboxState
from devtools.sandbox.tokens import TokenInvalid, verify_access_token
from devtools.sandbox.waves import run_wave

Result = tuple[int, dict, Any]

USER_DEFAULT_SELECT = ["id", "displayName", "mail", "userPrincipalName"]
USER_PROPS = USER_DEFAULT_SELECT + ["otherMails", "proxyAddresses", "accountEnabled", "assignedLicenses",
                                    "assignedPlans", "userType"]
ANY_RE = re.compile(
    r"singleValueExtendedProperties/Any\(\s*(\w+)\s*:\s*\1/id eq '((?:[^']|'')*)'\s+and\s+\1/value eq "
    r"'((?:[^']|'')*)'\s*\)",
    re.IGNORECASE,
)
CMP_RE = re.compile(r"^(start|end)/dateTime (ge|gt|le|lt|eq) '([^']*)'$", re.IGNORECASE)
EXPAND_RE = re.compile(r"^singleValueExtendedProperties\(\$filter=(.+)\)$", re.IGNORECASE)
PREFER_ZONE_RE = re.compile(r'outlook\.timezone="([^"]+)"')
EXPAND_ID_RE = re.compile(r"^id eq '((?:[^']|'')*)'$", re.IGNORECASE)
PAGE_CAP = 1000  # calendarView pages hold at most this many (fidelity row Q3)
SERIAL_MESSAGE = "Batch should be either fully sequential or fully parallel"


def error(status: int, code: str, message: str, headers: dict | None = None) -> Result:
    """Graph's error shape; request ids are stamped in by `dispatch` (fidelity row E1)."""
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")}}}
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def ok(status: int, body: Any = None, headers: dict | None = None) -> Result:
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def retry_after(seconds: float) -> str:
    """Retry-After as Graph sends it: whole seconds, at least 1 (fidelity row R1)."""
    return str(max(1, math.ceil(seconds)))


def _unq(text: str) -> str:
    return text.replace("''", "'")


# ---------------------------------------------------------------------- queries
def _parse_filter(text: str) -> list:
    """Our subset of $filter: tag lambdas and start/end comparisons joined by 'and'."""
    clauses: list = []
    rest = text
    for match in ANY_RE.finditer(text):
        clauses.append(("tag", _unq(match.group(2)), _unq(match.group(3))))
        rest = rest.replace(match.group(0), "")
    for part in [p.strip() for p in re.split(r"(?:^|\s+)and(?:\s+|$)", rest.strip(), flags=re.IGNORECASE)]:
        if not part:
            continue
        match = CMP_RE.match(part)
        if not match:
            raise GraphFault(400, "ErrorInvalidUrlQueryFilter", f"The query filter contains one or more invalid "
                             f"nodes: '{part}'.")
        try:
            value = parse_graph_dt(match.group(3)).replace(tzinfo=dt.UTC)
        except ValueError:
            raise GraphFault(400, "ErrorInvalidUrlQueryFilter", f"Invalid date '{match.group(3)}'.") from None
        clauses.append(("cmp", match.group(1).lower(), match.group(2).lower(), value))
    return clauses


_COMPARE = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt, "eq": operator.eq}


def _matches(event: dict, clauses: list) -> bool:
    for clause in clauses:
        if clause[0] == "tag":  # Exchange compares string values case-insensitively (fidelity row Q4)
            value = event.get("_props", {}).get(clause[1])
            if value is None or str(value).casefold() != clause[2].casefold():
                return False
        else:
            _, field, op, value = clause
            if not _COMPARE[op](event["_start_utc"] if field == "start" else event["_end_utc"], value):
                return False
    return True


def _parse_expand(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    match = EXPAND_RE.match(text.strip())
    if not match:
        raise GraphFault(400, "BadRequest", f"Parsing OData Select and Expand failed: '{text}'.")
    ids = set()
    for part in re.split(r"\s+or\s+", match.group(1).strip(), flags=re.IGNORECASE):
        id_match = EXPAND_ID_RE.match(part.strip())
        if not id_match:
            raise GraphFault(400, "BadRequest", f"Unsupported expand filter '{part}'.")
        ids.add(_unq(id_match.group(1)))
    return frozenset(ids)


def _top(query: dict, default: int, maximum: int | None) -> int:
    raw = query.get("$top")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise GraphFault(400, "BadRequest", f"Invalid $top value '{raw}'.") from None
    if value < 1 or (maximum is not None and value > maximum):
        raise GraphFault(400, "BadRequest", f"Invalid page size specified: '{value}'. Must be between 1 and {maximum}.")
    return min(value, PAGE_CAP)


def _skip_digest(offset: int | str) -> str:
    return hashlib.sha256(f"skip:{offset}".encode()).hexdigest()[:8]


def _skiptoken(offset: int) -> str:
    """Opaque to clients, as Graph's are (fidelity row P1)."""
    return base64.urlsafe_b64encode(f"{_skip_digest(offset)}:{offset}".encode()).decode().rstrip("=")


def _offset(query: dict, opaque: bool) -> int:
    if not opaque:
        return int(query.get("$skip") or 0)
    token = query.get("$skiptoken")
    if not token:
        return 0
    try:
        digest, offset = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        if digest == _skip_digest(offset):
            return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise GraphFault(400, "BadRequest", "The $skiptoken is invalid.")


def _page(items: list, query: dict, base_url: str, path: str, default: int, maximum: int | None, show=None,
          opaque: bool = False) -> dict:
    """One page of `items` with a nextLink (`$skip` for events, an opaque `$skiptoken` elsewhere)."""
    top = _top(query, default, maximum)
    skip = _offset(query, opaque)
    page = items[skip : skip + top]
    if show is not None:
        page = [show(item) for item in page]
    body: dict = {"@odata.context": f"{base_url}/$metadata#{path.strip('/')}", "value": page}
    if skip + top < len(items):
        rest = {k: v for k, v in query.items() if k not in ("$skip", "$skiptoken")}
        body["@odata.nextLink"] = f"{base_url}{path}?" + urlencode(
            rest | ({"$skiptoken": _skiptoken(skip + top)} if opaque else {"$skip": str(skip + top)}))
    return body


# ---------------------------------------------------------------------- throttling
def take_slot(state: SandboxState, mailbox: str, kind: str) -> tuple[str | None, float]:
    """Count the request, refuse past 4 in flight or the budget (GraphFault 429), inject faults; a slot taken
    returns (the fault drawn for after the write, if any; the request's latency in seconds). The caller waits
    out the latency, runs the request and gives the slot back (`give_slot`), as `mailbox_call` does."""
    limits = state.limits
    with state.lock:
        c = state.counters
        c.requests[(mailbox, kind)] += 1
        n = c.requests[(mailbox, "read")] + c.requests[(mailbox, "write")]  # the mailbox's request number
        now = time.monotonic()
        window_start, count = state.budget.get(mailbox, (now, 0))
        if now - window_start > limits.budget_window:
            window_start, count = now, 0
        if c.in_flight[mailbox] >= limits.mailbox_concurrency:
            c.throttled[mailbox] += 1
            raise GraphFault(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                             {"Retry-After": retry_after(limits.concurrency_retry_after)})
        if count >= limits.budget_requests:
            c.throttled[mailbox] += 1
            wait = limits.budget_window - (now - window_start)
            raise GraphFault(429, "ApplicationThrottled", "Application is over its MailboxRequests limit.",
                             {"Retry-After": retry_after(wait)})
        state.budget[mailbox] = (window_start, count + 1)
        fault = _draw_fault(state, mailbox, n)
        if fault in ("429", "503", "504"):
            c.faults[fault] += 1
            if fault == "429":
                c.throttled[mailbox] += 1
            raise GraphFault(int(fault), {"429": "TooManyRequests", "503": "ServiceUnavailable",
                                          "504": "GatewayTimeout"}[fault], "Injected fault.",
                             {"Retry-After": retry_after(state.faults.retry_after)})
        c.in_flight[mailbox] += 1
        c.peak_in_flight[mailbox] = max(c.peak_in_flight[mailbox], c.in_flight[mailbox])
    return fault, _latency(state, mailbox, n)


def give_slot(state: SandboxState, mailbox: str) -> None:
    with state.lock:
        state.counters.in_flight[mailbox] -= 1


async def mailbox_call(state: SandboxState, mailbox: str, kind: str, call: Callable[[], Result]) -> Result:
    """`call()` in one of the mailbox's slots (`take_slot`), after the request's latency, the slot held until
    it returns. The latency is waited out on the event loop: a thread asleep per sub-request, woken to take the
    GIL from the others, was a quarter to a half of the emulator's CPU at 2 ms (issue 25). Even without latency
    the call waits one turn of the loop, so requests sent at once are in flight at once, as over a network."""
    fault, delay = take_slot(state, mailbox, kind)
    try:
        await asyncio.sleep(delay)
        result = call()
    finally:
        give_slot(state, mailbox)
    if fault == "lost":  # the write happened, the answer arrives too late for the client (row F1)
        state.counters.faults["lost"] += 1
        await asyncio.sleep(state.faults.lost_delay)
    elif fault == "504_after":  # the write happened, the gateway gave up waiting (row F2)
        state.counters.faults["504_after"] += 1
        return error(504, "GatewayTimeout", "The gateway did not receive a timely response.")
    return result


def _unit(state: SandboxState, *parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in (state.seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _draw_fault(state: SandboxState, mailbox: str, n: int) -> str | None:
    f = state.faults
    if not (f.p429 or f.p503 or f.p504 or f.p_lost or f.p504_after):
        return None  # no draw can fall below a probability of 0: the hash is not needed
    roll = _unit(state, "fault", mailbox, n)
    for name, p in (("429", f.p429), ("503", f.p503), ("504", f.p504), ("lost", f.p_lost),
                    ("504_after", f.p504_after)):
        if roll < p:
            return name
        roll -= p
    return None


def _latency(state: SandboxState, mailbox: str, n: int) -> float:
    """Seconds the mailbox's request number `n` takes: the latency plus its share of the jitter."""
    if state.jitter:
        return state.latency + state.jitter * _unit(state, "lat", mailbox, n)
    return state.latency


# ---------------------------------------------------------------------- dispatch
async def dispatch(state: SandboxState, method: str, target: str, headers: dict, body: Any, base_url: str) -> Result:
    """Handle one Graph request; `target` is the path after /v1.0 with its query string. Runs on the server's
    event loop: the handlers are plain Python, only the latency is waited for (`mailbox_call`)."""
    headers = {k.lower(): v for k, v in headers.items()}
    return _stamp(await _dispatch(state, method.upper(), target, headers, body, base_url), headers)


@functools.lru_cache(maxsize=16384)
def _parsed_target(target: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], bool]:
    """(the path's segments, each decoded on its own (row U1); the query's pairs; is it `/$batch`?) of a request
    target, worked out once per target: a mailbox's requests repeat theirs (urlsplit, parse_qsl and unquote per
    sub-request were a visible share of the emulator's CPU, issue 25)."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/") or "/"
    return (tuple(unquote(s) for s in path.split("/") if s), tuple(parse_qsl(parts.query, keep_blank_values=True)),
            unquote(path) == "/$batch")


async def _dispatch(state: SandboxState, method: str, target: str, headers: dict, body: Any, base_url: str) -> Result:
    segments, pairs, is_batch = _parsed_target(target)
    query = dict(pairs)
    try:
        claims = _claims(state, headers.get("authorization", ""))
        if is_batch and method == "POST":
            return await run_batch(state, headers, body, base_url)
        return await _route(state, method, segments, query, headers, body, claims, base_url)
    except TokenInvalid as exc:
        return error(401, "InvalidAuthenticationToken", str(exc))
    except GraphFault as fault:
        return error(fault.status, fault.code, fault.message, fault.headers)


_VERIFIED: dict[tuple[str, str], dict] = {}  # (signing key, Authorization header) -> claims, signature checked


def _claims(state: SandboxState, authorization: str) -> dict:
    """`verify_access_token` with the signature and audience checked once per token: its expiry and
    revocation (row F3: a token revoked while its batch runs) on every request, as Entra's tokens are."""
    key = (state.signing_key, authorization)
    claims = _VERIFIED.get(key)
    if claims is None:
        claims = verify_access_token(state, authorization)
        if len(_VERIFIED) > 4096:
            _VERIFIED.clear()
        _VERIFIED[key] = claims
    elif claims["exp"] <= time.time() or claims.get("jti") in state.revoked_tokens:
        raise TokenInvalid("Lifetime validation failed, the token is expired.")
    return claims


_IDS = random.Random()


def _guid() -> str:
    """A random version-4 GUID as Graph's request ids are, without a system call per id (uuid4 reads
    os.urandom: twice per sub-request it was a visible share of the emulator's CPU): 16 random bytes in hex,
    the version digit 4, the variant digit's top bits 10, as uuid.UUID(version=4) sets them."""
    h = _IDS.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}  # a hex digit with its top two bits 10


def _stamp(result: Result, request_headers: dict) -> Result:
    """`request-id` / `client-request-id` on every answer and in every error's innerError (row E1)."""
    status, headers, body = result
    request_id = _guid()
    client_id = request_headers.get("client-request-id") or _guid()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"].setdefault("innerError", {}).update({"request-id": request_id, "client-request-id": client_id})
    return status, {**headers, "request-id": request_id, "client-request-id": client_id}, body


def _asks_immutable_id(headers: dict) -> bool:
    return 'idtype="immutableid"' in headers.get("prefer", "").replace(" ", "").lower()


async def _route(state, method, segments, query, headers, body, claims, base_url) -> Result:
    roles = set(claims.get("roles") or [])
    if segments and segments[0].lower().startswith("applications") and method == "GET":
        return ok(200, get_application(state, segments, query, roles))  # row K2
    if not segments or segments[0].lower() != "users":
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
    return await mailbox_call(state, user.id, "read" if method == "GET" else "write",
                              lambda: _mailbox_route(state, user, method, segments[2:], query, headers, body, base_url))


def _list_users(state: SandboxState, query: dict, base_url: str) -> dict:
    users = sorted(state.users.values(), key=lambda u: u.userPrincipalName)
    items = [_select_user(u, query) for u in users]
    return _page(items, query, base_url, "/users", 100, 999, opaque=True)


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
    zone = None
    prefer = headers.get("prefer", "")
    match = PREFER_ZONE_RE.search(prefer)
    if match:
        zone = match.group(1)
        zone_of(zone)
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
                clauses = _parse_filter(query["$filter"]) if query.get("$filter") else []
                if any(c[0] != "tag" for c in clauses):
                    raise GraphFault(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more "
                                     "invalid nodes.")
                cals = [_select_cal(c, query) for c in state.calendars.get(user.id, {}).values() if _matches(c, clauses)]
                return ok(200, _page(cals, query, base_url, f"/users/{user.id}/calendars", 10, 1000))
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
        return ok(200, event_json(event, _event_select(query), _parse_expand(query.get("$expand")), zone))
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
    expand_ids = _parse_expand(query.get("$expand"))
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
    clauses = _parse_filter(query["$filter"]) if query.get("$filter") else []
    expand = _parse_expand(query.get("$expand"))
    select = _event_select(query)
    with state.lock:
        events = [e for e in state.events.get(user_id, {}).values() if e["_calendar"] == cal["id"]]
        chosen = sorted((e for e in events if _matches(e, clauses)), key=lambda e: (e["_start_utc"], e["id"]))
        path = f"/users/{user_id}/calendars/{calendar_id}/events" if calendar_id else f"/users/{user_id}/events"
        return _page(chosen, query, base_url, path, 10, 1000, lambda e: event_json(e, select, expand, zone))


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
        return _page(chosen, query, base_url, f"/users/{user_id}/calendarView", 10, None,
                     lambda e: event_json(e, select, None, zone), opaque=True)


# ---------------------------------------------------------------------- $batch
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


async def run_batch(state: SandboxState, headers: dict, body: Any, base_url: str) -> Result:
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
        sub_headers = {"authorization": headers.get("authorization", ""),
                       **{k.lower(): v for k, v in (req.get("headers") or {}).items()}}
        url = str(req["url"])
        # `dispatch` with the headers lowered once
        status, out_headers, out_body = _stamp(await _dispatch(state, req["method"].upper(), url if url.startswith(
            "/") else "/" + url, sub_headers, req.get("body"), base_url), sub_headers)
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
