"""Events as the sandbox's Exchange stores them: validation, storage and edits.

Shapes (property names, enum members) come from Microsoft's schema (`graph_schema.json`);
each rule names its row in docs/sandbox-fidelity.md. Kept apart from the HTTP routing in
`graph.py` so the tenant state can seed events without importing the web layer; how a
stored event is shown (`$select`, zones, its JSON text) is `shown.py`.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import json
import re
import time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from devtools.sandbox.answers import GraphFault
from devtools.sandbox.jsontext import JSONFloat

# Microsoft's and CLDR's facts, not the client's choices: the schema is derived from Graph's CSDL, the zones from CLDR.
from oh_outlook_provider.graph.schema import enum_members, properties_of, schema
from oh_outlook_provider.graph.timezones import MAPPED_IANA_NAMES, WINDOWS_NAMES, iana_of

if TYPE_CHECKING:
    from devtools.sandbox.state import SandboxState

EVENT_PROPERTIES = frozenset(properties_of("event"))
# Computed by Exchange (event resource page: read-only); a client's value is ignored.
EVENT_READ_ONLY = frozenset({
    "id", "changeKey", "createdDateTime", "lastModifiedDateTime", "bodyPreview", "iCalUId", "isCancelled", "isOrganizer",
    "hasAttachments", "organizer", "responseStatus", "seriesMasterId", "type", "webLink", "originalStart",
    "originalStartTimeZone", "originalEndTimeZone", "onlineMeeting", "onlineMeetingUrl", "cancelledOccurrences", "isDraft",
    "calendar", "instances", "exceptionOccurrences", "attachments", "extensions", "multiValueExtendedProperties"})
EVENT_WRITABLE = EVENT_PROPERTIES - EVENT_READ_ONLY
ENUM_NAMES = frozenset(schema()["enums"])
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;"))  # html.escape's, in order
WRAP = '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head><body>{}</body></html>'
_HEAD, _TAIL = WRAP.split("{}")
_LEAVES = frozenset({str, int, float, bool, type(None), JSONFloat})  # the types of a JSON body's values but dict and list
_MOMENTS: dict[tuple[str, str], tuple[dt.datetime, dt.datetime]] = {}  # (dateTime, timeZone) -> (local, UTC); _moment


# ---------------------------------------------------------------------- time
def zone_of(name: str) -> ZoneInfo:
    """Every Windows name and every IANA name CLDR maps (fidelity row T1)."""
    if name in WINDOWS_NAMES or name in MAPPED_IANA_NAMES:
        return _zone(name)
    raise GraphFault(400, "TimeZoneNotSupportedException", f"A valid TimeZone value must be specified. "
                     f"The following TimeZone value is not supported: '{name}'.")


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    """The zone of a name `zone_of` accepts, looked up once (ZoneInfo keeps the zone, not the name's mapping)."""
    return ZoneInfo(iana_of(name))


def parse_graph_dt(value: str) -> dt.datetime:
    text = value.strip().rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return dt.datetime.fromisoformat(text)


def fmt_graph_dt(value: dt.datetime) -> str:
    """Graph's dateTime text, seven fraction digits: "2026-03-02T08:00:00.0000000" (the zone is left out)."""
    if value.year < 1000:  # strftime writes such a year unpadded, isoformat pads it
        return value.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.0000000")
    return "%04d-%02d-%02dT%02d:%02d:%02d.0000000" % (  # noqa: UP031 - isoformat's at 2/5 of its cost, an f-string's 2/5
        value.year, value.month, value.day, value.hour, value.minute, value.second)


_SECOND: tuple[int, str] = (-1, "")  # the last second stamped, as text; replaced whole, so threads read a pair


def _now_text() -> str:
    """The time now as Graph stamps an item: "2026-03-02T08:00:00.123456Z", the whole microseconds of the system
    clock as `datetime.now` takes them; the second's text made once per second (`datetime.now` and `isoformat`
    per write were a fortieth of a create's CPU in the emulator, issue 25)."""
    global _SECOND
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    known = _SECOND
    if known[0] != second:
        known = _SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{known[1]}.{micro:06d}Z"


def _moment(body: dict, name: str) -> tuple[dt.datetime, str, dt.datetime | None]:
    """(local time, zone name, UTC instant; None: not known yet, `_instant`) of `start` or `end`, GraphFault if refused. A
    (dateTime, timeZone) pair of strings once accepted is looked up: parsing, checking, converting were 1/20 of a create."""
    value = body.get(name)
    if type(value) is dict:
        text, zone = value.get("dateTime"), value.get("timeZone")
        if type(text) is str and type(zone) is str:
            known = _MOMENTS.get((text, zone))
            if known is not None:
                return known[0], zone, known[1]
    if not isinstance(value, dict) or not value.get("dateTime") or not value.get("timeZone"):
        raise GraphFault(400, "ErrorInvalidRequest", f"'{name}' requires dateTime and timeZone.")
    try:
        local = parse_graph_dt(str(value["dateTime"]))
    except ValueError:
        raise GraphFault(400, "ErrorInvalidRequest", f"Cannot convert '{value['dateTime']}' to DateTime.") from None
    if local.tzinfo is not None:
        raise GraphFault(400, "ErrorInvalidRequest", f"'{name}.dateTime' must not carry an offset.")
    zone_of(value["timeZone"])
    return local, value["timeZone"], None


def _instant(body: dict, name: str, local: dt.datetime, zone: str) -> dt.datetime:
    """The UTC instant of a moment `_moment` accepted, remembered for its (dateTime, timeZone) if both are strings."""
    utc, text = local.replace(tzinfo=zone_of(zone)).astimezone(dt.UTC), body[name]["dateTime"]
    if type(text) is str and type(zone) is str:
        if len(_MOMENTS) >= 65536:
            _MOMENTS.clear()
        _MOMENTS[(text, zone)] = (local, utc)
    return utc


# ---------------------------------------------------------------------- validation
@functools.cache
def _members(enum: str) -> frozenset[str]:
    """`enum_members` as a set, made once per enum."""
    return frozenset(enum_members(enum))


def check_shape(name: str, value: Any, type_name: str) -> None:
    """An object may carry only the properties its schema type has; nested objects and enum members
    are checked by their schema types in turn."""
    if value is None:
        return
    if type(value) is dict and _fine(value, type_name):
        return
    if not isinstance(value, dict):
        raise GraphFault(400, "RequestBodyRead", f"'{name}' must be a JSON object of type 'microsoft.graph.{type_name}'.")
    known, nested = _shape_of(type_name)
    every_known = known.issuperset(value)  # in C: the keys of a well-formed body are not looked at one by one
    if every_known and not nested:  # a type without nested objects or enums (a dateTimeTimeZone): nothing more
        return
    for key, inner in value.items():
        if not every_known and key not in known:
            if key.startswith("@odata"):
                continue
            raise GraphFault(400, "RequestBodyRead", f"The property '{key}' does not exist on type "
                             f"'microsoft.graph.{type_name}'. Make sure to only use property names that are defined "
                             "by the type.")
        shape = nested.get(key)
        if shape is None or inner is None:
            continue
        inner_type, members = shape
        if members is None:
            check_shape(f"{name}.{key}", inner, inner_type)
        elif not isinstance(inner, str) or inner not in members:  # an enum's members are strings
            raise GraphFault(400, "RequestBodyRead", f"Cannot convert the literal '{inner}' to the expected type "
                             f"'microsoft.graph.{inner_type}'.")


def _fine(value: dict, type_name: str) -> bool:
    """Would `check_shape` let `value` pass? Asked by the type's nested properties (a few), no name made per level; False
    sends the body the slow way, which raises its first property's error (the slow way was 1/20 of a create, issue 25)."""
    known, nested = _shape_of(type_name)
    if not known.issuperset(value):
        return False
    for key, (inner_type, members) in nested.items():
        inner = value.get(key)
        if inner is not None and not (type(inner) is dict and _fine(inner, inner_type) if members is None
                                      else isinstance(inner, str) and inner in members):
            return False
    return True


@functools.cache
def _shape_of(type_name: str) -> tuple[frozenset[str], dict[str, tuple[str, frozenset[str] | None]]]:
    """A schema type's property names, and its properties of a complex or enum type: name -> (type name, the
    enum's members; None for a complex type); KeyError for a type the schema does not list."""
    props = properties_of(type_name)
    complex_types = schema()["complex_types"]
    nested = {key: (inner, None if inner in complex_types else _members(inner)) for key, inner in props.items()
              if inner in complex_types or inner in ENUM_NAMES}
    return frozenset(props), nested


def check_properties(body: Any) -> dict:
    """Unknown properties, enum values and nested shapes, as Graph's OData reader refuses them."""
    if not isinstance(body, dict):
        raise GraphFault(400, "RequestBodyRead", "The request body must be a JSON object.")
    check_shape("event", body, "event")
    return body


def validate_event(body: dict) -> dict:
    """Graph's checks on the merged event; returns computed UTC bounds."""
    start, start_tz, start_utc = _moment(body, "start")
    end, end_tz, end_utc = _moment(body, "end")
    start_utc, end_utc = start_utc or _instant(body, "start", start, start_tz), end_utc or _instant(body, "end", end, end_tz)
    if body.get("isAllDay"):
        if start.time() != dt.time(0) or end.time() != dt.time(0) or start_tz != end_tz:
            raise GraphFault(400, "ErrorPropertyValidationFailure",
                             "Your request can't be completed. If the event is an all-day event, start and end "
                             "must be at midnight and in the same time zone.")
        if end <= start:
            raise GraphFault(400, "ErrorPropertyValidationFailure", "All-day events must last at least one day.")
    if end_utc < start_utc:
        raise GraphFault(400, "ErrorInvalidRequest", "The end time of the event must be after its start time.")
    recurrence = body.get("recurrence")
    if recurrence is not None and not (isinstance(recurrence, dict) and recurrence.get("pattern")
                                       and recurrence.get("range")):
        raise GraphFault(400, "ErrorInvalidRequest", "A recurrence needs a pattern and a range.")
    props = body.get("singleValueExtendedProperties") or []
    for p in props if isinstance(props, list) else (None,):  # a loop: a generator per body cost a fifth of the checks
        if not isinstance(p, dict) or "id" not in p:
            raise GraphFault(400, "RequestBodyRead", "singleValueExtendedProperties must be a list of {id, value}.")
    return {"start_utc": start_utc, "end_utc": end_utc}


def create_digest(body: dict) -> str:
    """What makes two creates 'the same request' for transactionId reuse (fidelity row X2)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# ---------------------------------------------------------------------- storage
def _store_body(value: Any) -> tuple[dict, str | None]:
    """The body as Exchange keeps it: HTML, a text body escaped, its line breaks `<br>`, wrapped in `WRAP`; and a text
    body's `bodyPreview`, known from its text (None: `shown.preview_of` the HTML). The wrapper's tags and the `<br>`s
    are all the tags there are, and unescaping gives the text back, each LF a CRLF after the wrapper's two CRLFs (the
    tags removed and the text unescaped per create were a twentieth of a create's CPU in the emulator, issue 25)."""
    if not isinstance(value, dict):
        return {"contentType": "html", "content": ""}, None
    content = str(value.get("content") or "")
    if (value.get("contentType") or "text").lower() != "text":
        return {"contentType": "html", "content": content}, None
    text = content  # html.escape's replacements, each only where its character is (a miss costs 10x a look)
    for char, entity in _ESCAPES:
        if char in text:
            text = text.replace(char, entity)
    preview = content[:251].replace("\n", "\r\n")[:251].strip()  # ("\r\n\r\n" + it)[:255].strip(): CRLFs stripped
    return {"contentType": "html", "content": _HEAD + (text.replace("\n", "<br>\r\n") if "\n" in text else text) + _TAIL}, preview


def _json_copy(value: Any) -> Any:
    """A stored JSON value's own copy (dicts and lists rebuilt, strings and numbers shared): what
    `copy.deepcopy` gave a response, at a fraction of its cost (issue 25)."""
    if type(value) is dict and _LEAVES.issuperset(map(type, value.values())):
        return value.copy()  # no dict or list inside (an address): in C
    if isinstance(value, dict):
        return {k: _json_copy(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def _store_location(state: SandboxState, value: Any, before: dict | None = None) -> dict:
    """The location as Exchange keeps it (fidelity rows E5, E6): `locationType` "default" for an
    event made through the API, `uniqueId` the display name (location resource page and the create
    event example response); `address` echoed per the `address_echo` setting."""
    location = _json_copy(value) if isinstance(value, dict) else {"displayName": ""}
    if before is not None and state.behaviour.complex_patch == "merge":
        merged = _json_copy(before)
        for key, inner in location.items():
            merged[key] = {**merged.get(key, {}), **inner} if isinstance(inner, dict) else inner
        location = merged
    location["locationType"] = "default"
    if location.get("displayName"):
        location["uniqueId"], location["uniqueIdType"] = location["displayName"], "private"  # update's order
    else:
        location.pop("uniqueId", None)
        location.pop("uniqueIdType", None)
    if isinstance(location.get("address"), dict) and state.behaviour.address_echo == "all_keys":
        location["address"] = {name: location["address"].get(name) or "" for name in properties_of("physicalAddress")}
    return location


# ---------------------------------------------------------------- what Exchange keeps of a text or a time
MAX_TEXT_UNITS = 255  # PidTagSubject; Outlook's location and category name fields (fidelity row E7)
_BREAK = re.compile(r"[\r\n\t]")


def _utf16_cut(text: str, units: int) -> str:
    """At most `units` UTF-16 code units; a surrogate pair cut in half loses its half."""
    return text.encode("utf-16-le")[:2 * units].decode("utf-16-le", "ignore")


def kept_text(state: SandboxState, name: str, value: Any) -> Any:
    """A subject, location name or category name as Exchange keeps it, per the settings `line_breaks`
    (row E8: CR, LF and tab kept, dropped, or each made a space) and `long_text` (row E7: past 255
    UTF-16 units cut, cut to 252 and "...", or refused with 400)."""
    if not isinstance(value, str):
        return value
    behaviour = state.behaviour
    if behaviour.line_breaks != "keep" and ("\n" in value or "\r" in value or "\t" in value):
        value = _BREAK.sub("" if behaviour.line_breaks == "drop" else " ", value)
    # A character is at most two UTF-16 units: a short text is not encoded to count them
    if len(value) <= MAX_TEXT_UNITS // 2 or len(value.encode("utf-16-le")) <= 2 * MAX_TEXT_UNITS:
        return value
    if behaviour.long_text == "refuse":
        raise GraphFault(400, "ErrorPropertyValidationFailure", f"The value of '{name}' exceeds the maximum length of "
                         f"{MAX_TEXT_UNITS} characters.")
    if behaviour.long_text == "ellipsis":
        return _utf16_cut(value, MAX_TEXT_UNITS - 3) + "..."
    return _utf16_cut(value, MAX_TEXT_UNITS)


def kept_fields(state: SandboxState, body: dict) -> dict:
    """The fields of a create or PATCH as Exchange keeps them (rows E7-E10); other fields as sent."""
    kept = dict(body)
    if "subject" in kept:
        kept["subject"] = kept_text(state, "subject", kept["subject"])
    location = kept.get("location")
    if isinstance(location, dict) and "displayName" in location:
        name = kept_text(state, "location.displayName", location["displayName"])
        if name is not location["displayName"]:  # kept as sent: the sent dict, which every caller copies
            kept["location"] = {**location, "displayName": name}
    if isinstance(kept.get("categories"), list):
        names = [kept_text(state, "categories", n) for n in kept["categories"]]
        if state.behaviour.event_categories == "deduplicated":  # row E10: one of each name, without regard to case
            first: dict[str, Any] = {}
            for n in names:
                first.setdefault(str(n).casefold(), n)
            names = list(first.values())
        kept["categories"] = names
    if state.behaviour.time_precision == "minutes":  # row E9: seconds dropped
        for name in ("start", "end"):
            moment = kept.get(name)
            if isinstance(moment, dict) and isinstance(moment.get("dateTime"), str):
                try:
                    local = parse_graph_dt(moment["dateTime"])
                except ValueError:
                    continue  # validate_event refuses it with Graph's message
                kept[name] = {**moment, "dateTime": local.replace(second=0, microsecond=0).isoformat()}
    return kept


def store_event(state: SandboxState, user_id: str, calendar_id: str, body: dict, checked: bool = False) -> dict:
    """Validate and insert a new event (also used to seed private events); `checked`: the caller has run
    `check_properties` on this body already (a create through Graph), so it is not walked twice."""
    if not checked:
        check_properties(body)
    sent, body = body, kept_fields(state, body)
    bounds, get = validate_event(body), body.get
    now, recurrence, event_id, change_key = _now_text(), get("recurrence"), state.new_id(), state.change_key()
    stored_body, preview = _store_body(get("body"))
    event = {
        "id": event_id, "createdDateTime": now, "lastModifiedDateTime": now, "changeKey": change_key,
        "@odata.etag": f'W/"{change_key}"', "subject": get("subject") or "",
        "body": stored_body, "start": dict(body["start"]), "end": dict(body["end"]),
        "isAllDay": bool(get("isAllDay")), "location": _store_location(state, get("location")),
        "categories": list(get("categories") or []), "showAs": get("showAs") or "busy",
        "sensitivity": get("sensitivity") or "normal", "importance": get("importance") or "normal",
        "isReminderOn": get("isReminderOn", True), "reminderMinutesBeforeStart": get("reminderMinutesBeforeStart", 15),
        "attendees": list(get("attendees") or []), "transactionId": get("transactionId"),
        "recurrence": copy.deepcopy(recurrence) if recurrence is not None else None,
        "iCalUId": "040000008200E00074C5B7101A82E008" + event_id[-24:],
        "type": "seriesMaster" if recurrence else "singleInstance", "isCancelled": False,
        "_calendar": calendar_id, "_start_utc": bounds["start_utc"], "_end_utc": bounds["end_utc"],
        "_props": {p["id"]: p.get("value") for p in get("singleValueExtendedProperties") or []},
        "_preview": preview,  # None: worked out from the stored HTML when first shown
    }
    with state.lock:
        state.events.setdefault(user_id, {})[event_id] = event
        if event["attendees"]:
            state.counters.invitations_sent += len(event["attendees"])
        if event["transactionId"]:
            # The body as sent, digested only if the id comes again (create_digest per create was a tenth of the
            # emulator's CPU in an initial sync, issue 25); nothing changes a request's body after it is parsed.
            state.transactions[(user_id, event["transactionId"])] = (event_id, sent)
    return event


def update_event(state: SandboxState, user_id: str, event: dict, patch: dict) -> dict:
    check_properties(patch)
    patch = kept_fields(state, patch)
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
                event["body"], event["_preview"] = _store_body(value)
            elif key == "location":
                event["location"] = _store_location(state, value, event.get("location"))
            elif key != "transactionId" and key in EVENT_WRITABLE:
                event[key] = copy.deepcopy(value)
        if patch.get("attendees"):
            state.counters.invitations_sent += len(patch["attendees"])
        event["_start_utc"], event["_end_utc"] = bounds["start_utc"], bounds["end_utc"]
        event["changeKey"] = state.change_key()
        event["@odata.etag"] = f'W/"{event["changeKey"]}"'
        event["lastModifiedDateTime"] = _now_text()
    return event
