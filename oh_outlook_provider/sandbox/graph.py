"""Microsoft Graph v1.0 subset: users, calendars, events, calendarView, $batch.

`dispatch()` is plain Python over `SandboxState`; the web layer and `$batch` both call it,
so a sub-request is validated, authorised and throttled exactly like a direct one.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import html
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from oh_outlook_provider.sandbox.state import SandboxState
from oh_outlook_provider.sandbox.tokens import TokenInvalid, verify_access_token
from oh_outlook_provider.timezones import IANA_TO_WINDOWS, WINDOWS_TO_IANA

Result = tuple[int, dict, Any]

# IANA names Graph accepts besides Windows names (a subset of Graph's documented list).
GRAPH_IANA = set(IANA_TO_WINDOWS) - {"Etc/UTC"}
WINDOWS_NAMES = set(WINDOWS_TO_IANA)
EVENT_WRITABLE = {
    "subject", "body", "start", "end", "isAllDay", "location", "locations", "categories", "showAs",
    "isReminderOn", "reminderMinutesBeforeStart", "sensitivity", "importance", "attendees",
    "singleValueExtendedProperties", "transactionId", "responseRequested", "allowNewTimeProposals",
    "isOnlineMeeting", "hideAttendees",
}
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
EXPAND_ID_RE = re.compile(r"^id eq '((?:[^']|'')*)'$", re.IGNORECASE)
WRAP = '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head><body>{}</body></html>'


class GraphFault(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error(status: int, code: str, message: str, headers: dict | None = None) -> Result:
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                                     "request-id": hashlib.md5(message.encode()).hexdigest()}}}
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def ok(status: int, body: Any = None, headers: dict | None = None) -> Result:
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def _unq(text: str) -> str:
    return text.replace("''", "'")


# ---------------------------------------------------------------------- time helpers
def zone_of(name: str) -> ZoneInfo:
    if name in WINDOWS_NAMES:
        return ZoneInfo(WINDOWS_TO_IANA[name])
    if name in GRAPH_IANA:
        return ZoneInfo(name)
    raise GraphFault(400, "TimeZoneNotSupportedException", f"A valid TimeZone value must be specified. "
                     f"The following TimeZone value is not supported: '{name}'.")


def parse_graph_dt(value: str) -> dt.datetime:
    text = value.strip().rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return dt.datetime.fromisoformat(text)


def fmt_graph_dt(value: dt.datetime) -> str:
    return value.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def _moment(body: dict, name: str) -> tuple[dt.datetime, str]:
    value = body.get(name)
    if not isinstance(value, dict) or not value.get("dateTime") or not value.get("timeZone"):
        raise GraphFault(400, "ErrorInvalidRequest", f"'{name}' requires dateTime and timeZone.")
    try:
        local = parse_graph_dt(str(value["dateTime"]))
    except ValueError:
        raise GraphFault(400, "ErrorInvalidRequest", f"Cannot convert '{value['dateTime']}' to DateTime.") from None
    if local.tzinfo is not None:
        raise GraphFault(400, "ErrorInvalidRequest", f"'{name}.dateTime' must not carry an offset.")
    zone_of(value["timeZone"])
    return local, value["timeZone"]


def validate_event(body: dict) -> dict:
    """Graph's checks on the merged event; returns computed UTC bounds."""
    start, start_tz = _moment(body, "start")
    end, end_tz = _moment(body, "end")
    start_utc = start.replace(tzinfo=zone_of(start_tz)).astimezone(dt.UTC)
    end_utc = end.replace(tzinfo=zone_of(end_tz)).astimezone(dt.UTC)
    if body.get("isAllDay"):
        if start.time() != dt.time(0) or end.time() != dt.time(0) or start_tz != end_tz:
            raise GraphFault(400, "ErrorPropertyValidationFailure",
                             "Your request can't be completed. If the event is an all-day event, start and end "
                             "must be at midnight and in the same time zone.")
        if end <= start:
            raise GraphFault(400, "ErrorPropertyValidationFailure", "All-day events must last at least one day.")
    if end_utc < start_utc:
        raise GraphFault(400, "ErrorInvalidRequest", "The end time of the event must be after its start time.")
    show_as = body.get("showAs")
    if show_as is not None and show_as not in {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"}:
        raise GraphFault(400, "RequestBodyRead", f"Cannot convert '{show_as}' to showAs.")
    props = body.get("singleValueExtendedProperties") or []
    if not isinstance(props, list) or any(not isinstance(p, dict) or "id" not in p for p in props):
        raise GraphFault(400, "RequestBodyRead", "singleValueExtendedProperties must be a list of {id, value}.")
    return {"start_utc": start_utc, "end_utc": end_utc}


def _check_properties(body: Any) -> dict:
    if not isinstance(body, dict):
        raise GraphFault(400, "RequestBodyRead", "The request body must be a JSON object.")
    for key in body:
        if key not in EVENT_WRITABLE and not key.startswith("@odata"):
            raise GraphFault(400, "RequestBodyRead",
                             f"The property '{key}' does not exist on type 'microsoft.graph.event'. "
                             "Make sure to only use property names that are defined by the type.")
    return body


def _store_body(value: Any) -> dict:
    if not isinstance(value, dict):
        return {"contentType": "html", "content": ""}
    content = str(value.get("content") or "")
    if (value.get("contentType") or "text").lower() == "text":
        content = WRAP.format(html.escape(content).replace("\n", "<br>\r\n"))
    return {"contentType": "html", "content": content}


def store_event(state: SandboxState, user_id: str, calendar_id: str, body: dict) -> dict:
    """Validate and insert a new event (also used to seed private events)."""
    _check_properties(body)
    bounds = validate_event(body)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    event_id = state.new_id()
    change_key = state.change_key()
    event = {
        "id": event_id, "createdDateTime": now, "lastModifiedDateTime": now, "changeKey": change_key,
        "@odata.etag": f'W/"{change_key}"', "subject": body.get("subject") or "",
        "body": _store_body(body.get("body")), "start": dict(body["start"]), "end": dict(body["end"]),
        "isAllDay": bool(body.get("isAllDay")), "location": body.get("location") or {"displayName": ""},
        "categories": list(body.get("categories") or []), "showAs": body.get("showAs") or "busy",
        "sensitivity": body.get("sensitivity") or "normal", "importance": body.get("importance") or "normal",
        "isReminderOn": body.get("isReminderOn", True),
        "reminderMinutesBeforeStart": body.get("reminderMinutesBeforeStart", 15),
        "attendees": list(body.get("attendees") or []), "transactionId": body.get("transactionId"),
        "iCalUId": "040000008200E00074C5B7101A82E008" + event_id[-24:], "type": "singleInstance",
        "isCancelled": False,
        "_calendar": calendar_id, "_start_utc": bounds["start_utc"], "_end_utc": bounds["end_utc"],
        "_props": {p["id"]: p.get("value") for p in body.get("singleValueExtendedProperties") or []},
    }
    with state.lock:
        state.events.setdefault(user_id, {})[event_id] = event
        if event["attendees"]:
            state.counters.invitations_sent += len(event["attendees"])
        if event["transactionId"]:
            state.transactions[(user_id, event["transactionId"])] = event_id
    return event


def update_event(state: SandboxState, user_id: str, event: dict, patch: dict) -> dict:
    _check_properties(patch)
    if "transactionId" in patch and patch["transactionId"] != event.get("transactionId"):
        raise GraphFault(400, "ErrorInvalidRequest", "transactionId cannot be changed.")
    merged = {k: v for k, v in event.items() if k in EVENT_WRITABLE}
    merged.update(patch)
    bounds = validate_event(merged)
    with state.lock:
        for key, value in patch.items():
            if key == "singleValueExtendedProperties":
                event["_props"].update({p["id"]: p.get("value") for p in value})
            elif key == "body":
                event["body"] = _store_body(value)
            elif key != "transactionId":
                event[key] = copy.deepcopy(value)
        if patch.get("attendees"):
            state.counters.invitations_sent += len(patch["attendees"])
        event["_start_utc"], event["_end_utc"] = bounds["start_utc"], bounds["end_utc"]
        event["changeKey"] = state.change_key()
        event["@odata.etag"] = f'W/"{event["changeKey"]}"'
        event["lastModifiedDateTime"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return event


# ---------------------------------------------------------------------- output
def render_event(event: dict, select: list[str] | None, expand_ids: set[str] | None, zone: str | None) -> dict:
    keep = (lambda k: not k.startswith("_") and (k in select or k in ("id", "@odata.etag", "start", "end", "body"))) \
        if select else (lambda k: not k.startswith("_"))
    out = {k: copy.deepcopy(v) for k, v in event.items() if keep(k)}
    tz_name = zone or "UTC"
    for name, utc_value in (("start", event["_start_utc"]), ("end", event["_end_utc"])):
        if event["isAllDay"]:
            local = parse_graph_dt(event[name]["dateTime"])
            out[name] = {"dateTime": fmt_graph_dt(local), "timeZone": tz_name}
        else:
            shown = utc_value.astimezone(zone_of(zone)) if zone else utc_value
            out[name] = {"dateTime": fmt_graph_dt(shown), "timeZone": tz_name}
    out["bodyPreview"] = html.unescape(re.sub(r"<[^>]+>", "", out["body"]["content"]))[:255].strip()
    if select:
        out = {k: v for k, v in out.items() if k in select or k in ("id", "@odata.etag")}
    if expand_ids is not None:
        out["singleValueExtendedProperties"] = [
            {"id": pid, "value": value} for pid, value in event["_props"].items() if pid in expand_ids
        ]
    return out


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


def _matches(event: dict, clauses: list) -> bool:
    for clause in clauses:
        if clause[0] == "tag":
            if event["_props"].get(clause[1]) != clause[2]:
                return False
        else:
            _, field, op, value = clause
            got = event["_start_utc"] if field == "start" else event["_end_utc"]
            if not {"ge": got >= value, "gt": got > value, "le": got <= value, "lt": got < value,
                    "eq": got == value}[op]:
                return False
    return True


def _parse_expand(text: str | None) -> set[str] | None:
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
    return ids


def _top(query: dict, default: int, maximum: int) -> int:
    raw = query.get("$top")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise GraphFault(400, "BadRequest", f"Invalid $top value '{raw}'.") from None
    if not 1 <= value <= maximum:
        raise GraphFault(400, "BadRequest", f"Invalid page size specified: '{value}'. Must be between 1 and {maximum}.")
    return value


def _page(items: list, query: dict, base_url: str, path: str, default: int, maximum: int, show=None) -> dict:
    """One page of `items` with a nextLink; `show` renders only the items on the page."""
    top = _top(query, default, maximum)
    skip = int(query.get("$skip") or 0)
    page = items[skip : skip + top]
    if show is not None:
        page = [show(item) for item in page]
    body: dict = {"@odata.context": f"{base_url}/$metadata#{path.strip('/')}", "value": page}
    if skip + top < len(items):
        next_query = {k: v for k, v in query.items() if k != "$skip"} | {"$skip": str(skip + top)}
        body["@odata.nextLink"] = f"{base_url}{path}?{urlencode(next_query)}"
    return body


# ---------------------------------------------------------------------- throttling
@contextmanager
def mailbox_slot(state: SandboxState, mailbox: str, kind: str):
    """Count the request, refuse past 4 in flight or the budget, inject faults, add latency."""
    limits = state.limits
    with state.lock:
        c = state.counters
        c.requests[(mailbox, kind)] += 1
        n = sum(v for (m, _), v in c.requests.items() if m == mailbox)
        now = time.monotonic()
        window_start, count = state.budget.get(mailbox, (now, 0))
        if now - window_start > limits.budget_window:
            window_start, count = now, 0
        if c.in_flight[mailbox] >= limits.mailbox_concurrency:
            c.throttled[mailbox] += 1
            raise GraphFault(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                             {"Retry-After": f"{limits.concurrency_retry_after:g}"})
        if count >= limits.budget_requests:
            c.throttled[mailbox] += 1
            wait = max(0.01, limits.budget_window - (now - window_start))
            raise GraphFault(429, "ApplicationThrottled", "Application is over its MailboxRequests limit.",
                             {"Retry-After": f"{wait:.3f}"})
        state.budget[mailbox] = (window_start, count + 1)
        fault = _draw_fault(state, mailbox, n)
        if fault in ("429", "503", "504"):
            c.faults[fault] += 1
            if fault == "429":
                c.throttled[mailbox] += 1
            raise GraphFault(int(fault), {"429": "TooManyRequests", "503": "ServiceUnavailable",
                                          "504": "GatewayTimeout"}[fault], "Injected fault.",
                             {"Retry-After": f"{state.faults.retry_after:g}"})
        c.in_flight[mailbox] += 1
        c.peak_in_flight[mailbox] = max(c.peak_in_flight[mailbox], c.in_flight[mailbox])
    try:
        _sleep_latency(state, mailbox, n)
        yield fault
    finally:
        with state.lock:
            state.counters.in_flight[mailbox] -= 1


def _unit(state: SandboxState, *parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in (state.seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _draw_fault(state: SandboxState, mailbox: str, n: int) -> str | None:
    f = state.faults
    roll = _unit(state, "fault", mailbox, n)
    for name, p in (("429", f.p429), ("503", f.p503), ("504", f.p504), ("lost", f.p_lost)):
        if roll < p:
            return name
        roll -= p
    return None


def _sleep_latency(state: SandboxState, mailbox: str, n: int) -> None:
    if state.latency or state.jitter:
        time.sleep(state.latency + state.jitter * _unit(state, "lat", mailbox, n))


# ---------------------------------------------------------------------- dispatch
def dispatch(state: SandboxState, method: str, target: str, headers: dict, body: Any, base_url: str) -> Result:
    """Handle one Graph request; `target` is the path after /v1.0 with its query string."""
    method = method.upper()
    parts = urlsplit(target)
    path = parts.path.rstrip("/") or "/"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    headers = {k.lower(): v for k, v in headers.items()}
    try:
        claims = verify_access_token(state, headers.get("authorization", ""))
        if path == "/$batch" and method == "POST":
            return run_batch(state, headers, body, base_url)
        return _route(state, method, path, query, headers, body, claims, base_url)
    except TokenInvalid as exc:
        return error(401, "InvalidAuthenticationToken", str(exc))
    except GraphFault as fault:
        return error(fault.status, fault.code, fault.message, fault.headers)


def _route(state, method, path, query, headers, body, claims, base_url) -> Result:
    segments = [s for s in path.split("/") if s]
    if not segments or segments[0].lower() != "users":
        return error(400, "BadRequest", f"Resource not found for the segment '{segments[0] if segments else ''}'.")
    roles = set(claims.get("roles") or [])
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
    # Everything below is a mailbox call.
    if not roles & {"Calendars.ReadWrite", "Calendars.Read"} or (
        method != "GET" and "Calendars.ReadWrite" not in roles
    ):
        return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    app = state.apps.get(claims.get("appid"))
    if app and app.policy_user_ids is not None and user.id not in app.policy_user_ids:
        return error(403, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant configured "
                     "AppOnly AccessPolicy settings.")
    if not user.has_mailbox:
        return error(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is "
                     "hosted on-premise.")
    kind = "read" if method == "GET" else "write"
    with mailbox_slot(state, user.id, kind) as fault:
        result = _mailbox_route(state, user, method, segments[2:], query, headers, body, base_url)
    if fault == "lost":  # the write happened, the answer arrives too late for the client
        state.counters.faults["lost"] += 1
        time.sleep(state.faults.lost_delay)
    return result


def _list_users(state: SandboxState, query: dict, base_url: str) -> dict:
    users = sorted(state.users.values(), key=lambda u: u.userPrincipalName)
    items = [_select_user(u, query) for u in users]
    return _page(items, query, base_url, "/users", 100, 999)


def _select_user(user, query: dict) -> dict:
    select = [s.strip() for s in query.get("$select", "").split(",") if s.strip()] or USER_DEFAULT_SELECT
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
    match = re.search(r'outlook\.timezone="([^"]+)"', prefer)
    if match:
        zone = match.group(1)
        zone_of(zone)
    calendar_id = None
    if rest and rest[0].lower() == "calendar":
        rest = rest[1:]
        if not rest:
            cal = state.default_calendar(user.id)
            return ok(200, _select_cal(cal, query))
    elif rest and rest[0].lower() == "calendars":
        if len(rest) == 1:
            if method == "GET":
                cals = [_select_cal(c, query) for c in state.calendars.get(user.id, {}).values()]
                return ok(200, _page(cals, query, base_url, f"/users/{user.id}/calendars", 10, 1000))
            if method == "POST":
                return ok(201, _create_calendar(state, user.id, body))
            return error(405, "ErrorInvalidRequest", "Method not allowed.")
        calendar_id = rest[1]
        _calendar(state, user.id, calendar_id)
        rest = rest[2:]
        if not rest:
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
        return ok(200, render_event(event, _select(query), _parse_expand(query.get("$expand")), zone))
    if method == "PATCH":
        return ok(200, render_event(update_event(state, user.id, event, body or {}), None, None, zone))
    if method == "DELETE":
        with state.lock:
            events.pop(event["id"], None)
        return 204, {}, None
    return error(405, "ErrorInvalidRequest", "Method not allowed.")


def _select(query: dict) -> list[str] | None:
    return [s.strip() for s in query.get("$select", "").split(",") if s.strip()] or None


def _select_cal(cal: dict, query: dict) -> dict:
    select = _select(query)
    return {k: v for k, v in cal.items() if not select or k in select or k == "id"}


def _create_calendar(state: SandboxState, user_id: str, body: Any) -> dict:
    name = (body or {}).get("name") if isinstance(body, dict) else None
    if not name:
        raise GraphFault(400, "ErrorInvalidRequest", "The calendar name is required.")
    with state.lock:
        cals = state.calendars.setdefault(user_id, {})
        if any(c["name"].casefold() == name.casefold() for c in cals.values()):
            raise GraphFault(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        cal_id = state.new_id("AAMkCal")
        cals[cal_id] = {"id": cal_id, "name": name, "isDefaultCalendar": False, "changeKey": state.change_key()}
        return dict(cals[cal_id])


def _create(state: SandboxState, user_id: str, calendar_id: str, body: Any, zone: str | None) -> Result:
    _check_properties(body)
    txn = body.get("transactionId")
    with state.lock:
        existing_id = state.transactions.get((user_id, txn)) if txn else None
        existing = state.events.get(user_id, {}).get(existing_id) if existing_id else None
    if existing is not None:  # a repeated create: Graph answers with the event it already made
        return ok(201, render_event(existing, None, None, zone))
    event = store_event(state, user_id, calendar_id, body)
    return ok(201, render_event(event, None, None, zone))


def _list_events(state, user_id, cal, query, zone, base_url, calendar_id) -> Result:
    clauses = _parse_filter(query["$filter"]) if query.get("$filter") else []
    expand = _parse_expand(query.get("$expand"))
    select = _select(query)
    with state.lock:
        events = [e for e in state.events.get(user_id, {}).values() if e["_calendar"] == cal["id"]]
        chosen = sorted((e for e in events if _matches(e, clauses)), key=lambda e: (e["_start_utc"], e["id"]))
        path = f"/users/{user_id}/calendars/{calendar_id}/events" if calendar_id else f"/users/{user_id}/events"
        return _page(chosen, query, base_url, path, 10, 1000, lambda e: render_event(e, select, expand, zone))


def _calendar_view(state, user_id, calendar_id, query, zone, base_url, rest) -> dict:
    try:
        start = parse_graph_dt(query["startDateTime"]).replace(tzinfo=dt.UTC)
        end = parse_graph_dt(query["endDateTime"]).replace(tzinfo=dt.UTC)
    except KeyError:
        raise GraphFault(400, "ErrorInvalidParameter", "This request requires a time window specified by the query "
                         "string parameters StartDateTime and EndDateTime.") from None
    if (end - start).days > 1825:
        raise GraphFault(400, "ErrorInvalidParameter", "The time window must not exceed 1825 days.")
    with state.lock:
        events = [e for e in state.events.get(user_id, {}).values()
                  if e["_calendar"] == calendar_id and e["_start_utc"] < end and e["_end_utc"] > start]
        chosen = sorted(events, key=lambda e: (e["_start_utc"], e["id"]))
        select = _select(query)
        return _page(chosen, query, base_url, f"/users/{user_id}/calendarView", 10, 1000,
                     lambda e: render_event(e, select, None, zone))


# ---------------------------------------------------------------------- $batch
def run_batch(state: SandboxState, headers: dict, body: Any, base_url: str) -> Result:
    requests = (body or {}).get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return error(400, "BadRequest", "Invalid batch payload format.")
    if len(requests) > 20:
        return error(400, "BadRequest", "The number of batch requests exceeds the limit of 20.")
    ids = [str(r.get("id")) for r in requests]
    if len(set(ids)) != len(ids):
        return error(400, "BadRequest", "Batch request ids must be unique.")
    for r in requests:
        if r.get("body") is not None and not any(k.lower() == "content-type" for k in (r.get("headers") or {})):
            return error(400, "BadRequest", "Content-Type header must be specified for a request with a body.")
        for dep in r.get("dependsOn") or []:
            if str(dep) not in ids:
                return error(400, "BadRequest", f"dependsOn refers to an unknown id '{dep}'.")
    state.counters.batch_calls += 1
    by_id = {str(r["id"]): r for r in requests}
    results: dict[str, dict] = {}
    auth = {"authorization": headers.get("authorization", ""), "prefer": headers.get("prefer", "")}

    def run(req_id: str) -> None:
        req = by_id[req_id]
        deps = [str(d) for d in req.get("dependsOn") or []]
        if any(not 200 <= results[d]["status"] < 300 for d in deps):
            results[req_id] = {"id": req_id, "status": 424, "headers": {},
                               "body": error(424, "FailedDependency", "A dependency failed.")[2]}
            return
        sub_headers = {**auth, **{k.lower(): v for k, v in (req.get("headers") or {}).items()}}
        url = str(req.get("url") or "")
        status, out_headers, out_body = dispatch(state, req.get("method", "GET"), url, sub_headers,
                                                 req.get("body"), base_url)
        results[req_id] = {"id": req_id, "status": status, "headers": out_headers, "body": out_body}

    # Waves: everything whose dependencies are done runs in parallel, as Graph does.
    remaining = list(ids)
    with ThreadPoolExecutor(max_workers=20) as pool:
        while remaining:
            ready = [i for i in remaining if all(str(d) in results for d in by_id[i].get("dependsOn") or [])]
            if not ready:
                return error(400, "BadRequest", "dependsOn forms a cycle.")
            list(pool.map(run, ready))
            remaining = [i for i in remaining if i not in results]
    order = list(ids)
    state.rng.shuffle(order)  # responses may come in any order
    return ok(200, {"responses": [results[i] for i in order]})
