"""Everything that knows openHandwerk's paths and field names, and nothing else.

openHandwerk's public docs name the login and the envelope but not the exact shape of
employees and appointments, so the parser accepts the plausible spellings listed here and
rejects a record with a clear reason when a required field is missing. It never guesses
silently. Paths can be overridden per connection (`paths` extra).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oh_outlook_provider.i18n import _
from oh_outlook_provider.openhandwerk.reasons import kind_name, moment_name, shown, unreadable
from oh_outlook_provider.openhandwerk.spellings import spellings
from oh_outlook_provider.sync.models import Appointment, Employee, PostalAddress, Rejected

DEFAULT_PATHS: dict[str, str] = {
    "login": "/auth/login",
    "employees": "/employees",
    "appointments": "/appointments",
    "appointment": "/appointments/{id}",
}
# Query parameters of the appointment list: start of the range, end (exclusive), paging.
RANGE_FROM, RANGE_TO, PAGE, PAGE_SIZE = "from", "to", "page", "limit"
LOGIN_FIELDS = ("idKn", "employee", "password")
TOKEN_FIELDS = ("token", "jwt", "access_token", "accessToken")

EMPLOYEE_ID = ("id", "employeeId", "idMitarbeiter", "mitarbeiterId")
EMPLOYEE_EMAIL = ("email", "mail", "eMail", "e_mail", "emailAddress")
EMPLOYEE_NAME = ("name", "displayName", "fullName")
EMPLOYEE_FIRST = ("firstName", "firstname", "vorname")
EMPLOYEE_LAST = ("lastName", "lastname", "nachname")
EMPLOYEE_ACTIVE = ("active", "aktiv", "isActive")

APPOINTMENT_ID = ("id", "appointmentId", "idTermin", "terminId")
APPOINTMENT_TITLE = ("title", "titel", "subject", "bezeichnung", "name")
APPOINTMENT_START = ("start", "startDate", "beginn", "von", "startDateTime")
APPOINTMENT_END = ("end", "endDate", "ende", "bis", "endDateTime")
APPOINTMENT_ALL_DAY = ("allDay", "all_day", "ganztaegig", "ganztags", "isAllDay")
APPOINTMENT_DESCRIPTION = ("description", "beschreibung", "notiz", "text")
APPOINTMENT_ADDRESS = ("address", "adresse", "location", "ort", "einsatzort")
APPOINTMENT_CUSTOMER = ("customer", "kunde", "customerName", "kundenname")
APPOINTMENT_PROJECT = ("projectNumber", "projektnummer", "project_number", "projectId", "projekt")
APPOINTMENT_CATEGORY = ("category", "kategorie", "type", "art", "terminart")
APPOINTMENT_EMPLOYEES = ("employees", "employeeIds", "mitarbeiter", "attendees", "teilnehmer")
APPOINTMENT_CANCELLED = ("cancelled", "canceled", "storniert", "abgesagt")
APPOINTMENT_STATUS = ("status", "state")
CANCELLED_STATUS = {"cancelled", "canceled", "storniert", "abgesagt"}


def path(paths: Mapping[str, str] | None, name: str, **ids: str) -> str:
    """A path with each id percent-encoded as one segment (an id may hold any printable character)."""
    template = (paths or {}).get(name) or DEFAULT_PATHS[name]
    return template.format(**{key: quote(value, safe="") for key, value in ids.items()})


def first(record: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return value
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return _text(value).lower() in {"1", "true", "yes", "ja", "y", "x"}


def record_id(record: Any, names: Iterable[str]) -> str:
    """The record's id as text, or "?" when it has none a person could look up."""
    if not isinstance(record, Mapping) or _id_problem(record, names, "record") is not None:
        return "?"
    return str(first(record, names))  # as written: " 17" is not "17", and the id goes back into the path


MAX_ID = 200  # our event key (source|appointment|employee) stays well inside an extended property


def _id_problem(record: Mapping[str, Any], names: Iterable[str], kind: str,
                every: Iterable[str] | None = None) -> str | None:
    """Why the record's id could not be looked up (in the admin's language), or None when it can.
    `kind`: "appointment", "employee" or a label already in that language; `every`: all spellings of
    the id, named in the reason (default `names`; `names` may be those the record holds)."""
    value = first(record, names)
    if value is None:
        return _("{kind} without an id (expected one of {names})").format(kind=kind_name(kind),
                                                                          names=", ".join(every or names))
    if isinstance(value, bool) or not isinstance(value, str | int):
        return _("{kind} id is {value}, expected a text or a whole number").format(kind=kind_name(kind),
                                                                                   value=shown(value))
    text = str(value)
    if not text.strip():
        return _("{kind} id is blank").format(kind=kind_name(kind))
    if len(text) > MAX_ID:
        return _("{kind} id is longer than {limit} characters").format(kind=kind_name(kind), limit=MAX_ID)
    if not text.isprintable():
        return _("{kind} id {id} holds control characters").format(kind=kind_name(kind), id=repr(text[:40]))
    return None  # every record: nothing translated (each message reads the language setting)


def parse_employee(record: Any) -> Employee | Rejected:
    if not isinstance(record, Mapping):
        return Rejected("?", _("employee record is a {type}, not an object").format(type=type(record).__name__),
                        "employee")
    problem = _id_problem(record, EMPLOYEE_ID, "employee")
    if problem:  # not `record_id(...) == "?"`: "?" is an id a record may really have
        return Rejected("?", problem, "employee")
    emp_id = record_id(record, EMPLOYEE_ID)
    try:
        return _employee(record, emp_id)
    except Exception as exc:  # noqa: BLE001 - a shape nobody foresaw rejects this record only
        return Rejected(emp_id, unreadable(exc), "employee")


def _employee(record: Mapping[str, Any], emp_id: str) -> Employee:
    name = _text(first(record, EMPLOYEE_NAME)) or " ".join(
        p for p in (_text(first(record, EMPLOYEE_FIRST)), _text(first(record, EMPLOYEE_LAST))) if p
    )
    active = first(record, EMPLOYEE_ACTIVE)
    return Employee(
        id=emp_id,
        name=name or emp_id,
        email=_text(first(record, EMPLOYEE_EMAIL)) or None,
        active=True if active is None else _bool(active),
    )


# The parts of an address, as an address object (or the appointment record itself) may spell them.
ADDRESS_LABEL = ("name", "bezeichnung", "label")
ADDRESS_STREET = ("street", "strasse", "straße", "streetName", "addressLine", "line1")
ADDRESS_NUMBER = ("houseNumber", "hausnummer", "streetNumber", "nr", "number")
ADDRESS_ZIP = ("zip", "plz", "postalCode", "postcode", "postleitzahl", "zipCode")
ADDRESS_CITY = ("city", "ort", "stadt", "town")
ADDRESS_COUNTRY = ("country", "land", "countryOrRegion", "countryCode")


def _postal(parts: Mapping[str, Any], held: Mapping[tuple[str, ...], tuple[str, ...]] | None = None) -> PostalAddress:
    held = spellings(parts) if held is None else held
    number = _text(first(parts, held[ADDRESS_NUMBER]))
    street = _text(first(parts, held[ADDRESS_STREET]))
    street = f"{street} {number}" if street and number else street or number
    return PostalAddress(street, _text(first(parts, held[ADDRESS_ZIP])), _text(first(parts, held[ADDRESS_CITY])),
                         _text(first(parts, held[ADDRESS_COUNTRY])))


def _address(record: Mapping[str, Any], held: Mapping[tuple[str, ...], tuple[str, ...]] | None = None,
             ) -> tuple[str, PostalAddress | None]:
    """The location line and, when openHandwerk sends street and postal code or city in parts, the
    address to navigate to. Free text, or parts too few to find the place, stay a line only."""
    held = spellings(record) if held is None else held
    value = first(record, held[APPOINTMENT_ADDRESS])
    is_parts = type(value) is dict or isinstance(value, Mapping)
    if not is_parts and first(record, held[ADDRESS_STREET]) is not None:
        postal = _postal(record, held)  # the parts on the record itself ("ort" there is the city)
        return postal.display(), postal if postal.postal_code or postal.city else None
    if is_parts:
        postal = _postal(value)
        label = _text(first(value, ADDRESS_LABEL))
        line = ", ".join(p for p in (label, postal.display()) if p)
        return line, postal if postal.street and (postal.postal_code or postal.city) else None
    if isinstance(value, (list, tuple)):
        return ", ".join(t for t in (_text(v) for v in value if not isinstance(v, (Mapping, list))) if t), None
    return _text(value), None


def _customer(value: Any) -> str:
    if isinstance(value, Mapping):
        return _text(first(value, ("name", "firma", "company", "displayName")))
    return _text(value)


def _employee_ids(value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Ids as openHandwerk may send them: a list (of ids or employee objects), one id, or "a,b".

    Returns (ids, dropped): an entry of the list that names no employee (null, a nested list, true,
    an object without an id) is left out with its reason, and the appointment goes to the others.
    A value that is no list at all leaves nothing to keep and rejects the record (ValueError).
    """
    if value is None:
        return (), ()
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        value = [v for v in str(value).split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ValueError(_("employees is {value}, expected a list of employee ids").format(value=shown(value)))
    if all(type(item) is str for item in value):  # the common list of ids: each stripped, blanks and repeats left out
        return tuple(dict.fromkeys(filter(None, map(str.strip, value)))), ()
    ids: list[str] = []
    dropped: list[str] = []
    for n, item in enumerate(value, 1):
        if isinstance(item, Mapping):
            problem = _id_problem(item, EMPLOYEE_ID, "employee")
            if problem:  # named after its place in the list (worked out only here: every message reads the setting)
                problem = _id_problem(item, EMPLOYEE_ID, _("employees entry {n}").format(n=n))
            ident = "" if problem else record_id(item, EMPLOYEE_ID)
        elif isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)):
            problem, ident = None, _text(item)
        else:
            problem = _("{entry} is {value}, expected an employee id").format(
                entry=_("employees entry {n}").format(n=n), value=shown(item))
            ident = ""
        if problem:
            dropped.append(_("{problem}: left out, the appointment is synced for the other employees").format(
                problem=problem))
        elif ident and ident not in ids:
            ids.append(ident)
    return tuple(ids), tuple(dropped)


# Outlook stores times as Windows FILETIMEs (from 1601) and uses 4501-01-01 as its "no date"
# (MS-OXOCAL); a record outside this range could never be shown, and Python's datetime would
# overflow converting year 1 or 9999 across a time zone.
EARLIEST, LATEST = dt.date(1601, 1, 1), dt.date(4500, 12, 31)


def _parse_raw(value: Any, what: str) -> dt.datetime | dt.date:
    """A date or a datetime as written (naive, or with its own offset), inside Outlook's range."""
    if isinstance(value, dt.datetime | dt.date):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = _iso(value)
        except ValueError:
            raise ValueError(_("{what} '{value}' is not an ISO date or date-time").format(
                what=moment_name(what), value=_text(value)[:40])) from None
    else:
        raise ValueError(_("{what} is {value}, expected an ISO date or date-time text").format(
            what=moment_name(what), value=shown(value)))
    day = parsed.date() if isinstance(parsed, dt.datetime) else parsed
    if not EARLIEST <= day <= LATEST:
        raise ValueError(_("{what} {day} is outside the dates Outlook can store ({earliest} to {latest})").format(
            what=moment_name(what), day=day.isoformat(), earliest=EARLIEST.isoformat(), latest=LATEST.isoformat()))
    return parsed


MOMENTS_REMEMBERED = 8192  # start and end texts repeat across appointments (whole hours of a few months)


@lru_cache(maxsize=MOMENTS_REMEMBERED)
def _iso(value: str) -> dt.datetime | dt.date:
    """An ISO date or date-time text (a space for the T, Z for UTC); raises ValueError (not remembered)."""
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)


def _wall(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """An aware time in `zone`. Offsets are converted. A naive wall time is read in `zone`: in the
    repeated autumn hour as its first occurrence (fold 0), and a time the spring-forward gap skips
    (02:30 in Berlin) moved forward by the gap (03:30), as Outlook moves such a time."""
    if value.tzinfo is not None:
        return value.astimezone(zone)
    return _wall_naive(value, value.fold, zone)


@lru_cache(maxsize=MOMENTS_REMEMBERED)
def _wall_naive(value: dt.datetime, fold: int, zone: ZoneInfo) -> dt.datetime:
    """`_wall` of a naive time, remembered (the fold in the key: naive times equal across folds)."""
    aware = value.replace(tzinfo=zone)
    if aware.utcoffset() == aware.replace(fold=1).utcoffset():
        return aware  # the common case: the wall time names one instant
    return aware.astimezone(dt.UTC).astimezone(zone)  # the gap moves forward, the repeated hour stays fold 0


def parse_appointment(record: Any, timezone: str = "Europe/Berlin") -> Appointment | Rejected:
    """One appointment record -> Appointment, or Rejected naming the record and the reason.

    Never raises: any record, whatever its JSON, is accepted or rejected with its id and a reason
    (a fuzz test over arbitrary JSON holds this), so one bad record never stops the others.
    """
    if not isinstance(record, Mapping):
        return Rejected("?", _("appointment record is a {type}, not an object").format(type=type(record).__name__))
    held = spellings(record)
    problem = _id_problem(record, held[APPOINTMENT_ID], "appointment", APPOINTMENT_ID)
    if problem:  # not `record_id(...) == "?"`: "?" is an id a record may really have
        return Rejected("?", problem)
    app_id = str(first(record, held[APPOINTMENT_ID]))  # record_id: as written
    try:
        return _appointment(record, app_id, timezone, held)
    except ValueError as exc:
        return Rejected(app_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - a shape nobody foresaw rejects this record only
        return Rejected(app_id, unreadable(exc))


def _zone(record: Mapping[str, Any], default: str) -> ZoneInfo:
    name = record.get("timezone")
    if name in (None, ""):
        name = default
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(_("unknown time zone '{zone}' (expected an IANA name such as Europe/Berlin)").format(
            zone=_text(name)[:40])) from None


def _appointment(record: Mapping[str, Any], app_id: str, timezone: str,
                 held: Mapping[tuple[str, ...], tuple[str, ...]]) -> Appointment:
    zone = _zone(record, timezone)
    raw_start, raw_end = first(record, held[APPOINTMENT_START]), first(record, held[APPOINTMENT_END])
    if raw_start is None:
        raise ValueError(_("no start date"))
    start_raw = _parse_raw(raw_start, "start")
    end_raw = _parse_raw(raw_end, "end") if raw_end is not None else None
    all_day_flag = first(record, held[APPOINTMENT_ALL_DAY])
    all_day = _bool(all_day_flag) if all_day_flag is not None else not isinstance(start_raw, dt.datetime)
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    if all_day:
        # The calendar day as written: an offset says where the writer was, not which day it is
        # (2026-03-20T00:00+05:00 is the 20th, although it is the 19th in Berlin).
        start = _day(start_raw)
        if end_raw is None:
            end = start + dt.timedelta(days=1)
        elif isinstance(end_raw, dt.datetime) and end_raw.time() == dt.time(0) and end_raw.date() > start:
            end = end_raw.date()  # given as exclusive midnight already
        else:
            end = _day(end_raw) + dt.timedelta(days=1)
    else:
        if not isinstance(start_raw, dt.datetime):
            raise ValueError(_("start has no time of day but the appointment is not all-day"))
        if end_raw is None:
            raise ValueError(_("no end time"))
        start = _wall(start_raw, zone)
        end = _wall(end_raw if isinstance(end_raw, dt.datetime) else dt.datetime.combine(end_raw, dt.time()), zone)
        if end < start and start_raw.tzinfo is None and start.replace(tzinfo=None) != start_raw:
            # Only a time the spring-forward gap skips moves; a valid end stays where openHandwerk put it,
            # unless the moved start passed it: then the appointment keeps its length on the wall clock.
            end = start + (end_raw.replace(tzinfo=None) - start_raw) if isinstance(end_raw, dt.datetime) else start
    if end < start:  # type: ignore[operator]  # end == start: a zero-length appointment, which Outlook keeps
        raise ValueError(_("end {end} is before start {start}").format(end=end.isoformat(), start=start.isoformat()))
    status = _text(first(record, held[APPOINTMENT_STATUS]))
    employee_ids, dropped = _employee_ids(first(record, held[APPOINTMENT_EMPLOYEES]))
    location, address = _address(record, held)
    cancelled_flag = first(record, held[APPOINTMENT_CANCELLED])
    return Appointment(
        id=app_id,
        title=_text(first(record, held[APPOINTMENT_TITLE])) or "(ohne Titel)",
        start=start,
        end=end,
        timezone=zone.key,
        all_day=all_day,
        description=_text(first(record, held[APPOINTMENT_DESCRIPTION])),
        location=location,
        address=address,
        customer=_customer(first(record, held[APPOINTMENT_CUSTOMER])),
        project_number=_text(first(record, held[APPOINTMENT_PROJECT])),
        category=_text(first(record, held[APPOINTMENT_CATEGORY])),
        employee_ids=employee_ids,
        cancelled=(_bool(cancelled_flag) if cancelled_flag is not None else False)
        or status.casefold() in CANCELLED_STATUS,
        status=status,
        dropped=dropped,
    )


def _day(value: dt.datetime | dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def unwrap_page(payload: Any) -> list:
    """The record list of a page: a bare list or a dict holding one under a common key."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        for key in ("items", "data", "results", "records", "appointments", "employees", "termine"):
            if isinstance(payload.get(key), list):
                return payload[key]
    raise ValueError(_("expected a list of records, got {type}").format(type=type(payload).__name__))
