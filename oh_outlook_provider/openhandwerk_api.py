"""Everything that knows openHandwerk's paths and field names, and nothing else.

openHandwerk's public docs name the login and the envelope but not the exact shape of
employees and appointments, so the parser accepts the plausible spellings listed here and
rejects a record with a clear reason when a required field is missing. It never guesses
silently. Paths can be overridden per connection (`paths` extra).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oh_outlook_provider.sync.models import Appointment, Employee, Rejected

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
    template = (paths or {}).get(name) or DEFAULT_PATHS[name]
    return template.format(**ids)


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
    if not isinstance(record, Mapping):
        return "?"
    return _text(first(record, names)) or "?"


def parse_employee(record: Any) -> Employee | Rejected:
    if not isinstance(record, Mapping):
        return Rejected("?", f"employee record is a {type(record).__name__}, not an object", "employee")
    emp_id = record_id(record, EMPLOYEE_ID)
    if emp_id == "?":
        return Rejected("?", f"employee without an id (expected one of {', '.join(EMPLOYEE_ID)})", "employee")
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


def _address(value: Any) -> str:
    if isinstance(value, Mapping):
        street = _text(first(value, ("street", "strasse", "straße")))
        number = _text(first(value, ("houseNumber", "hausnummer", "nr")))
        zip_code = _text(first(value, ("zip", "plz", "postalCode")))
        city = _text(first(value, ("city", "ort", "stadt")))
        line1 = " ".join(p for p in (street, number) if p)
        line2 = " ".join(p for p in (zip_code, city) if p)
        return ", ".join(p for p in (line1, line2) if p)
    return _text(value)


def _customer(value: Any) -> str:
    if isinstance(value, Mapping):
        return _text(first(value, ("name", "firma", "company", "displayName")))
    return _text(value)


def _employee_ids(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int)):
        value = [v for v in str(value).split(",") if v.strip()]
    ids = []
    for item in value:
        ident = record_id(item, EMPLOYEE_ID) if isinstance(item, Mapping) else _text(item)
        if ident and ident != "?" and ident not in ids:
            ids.append(ident)
    return tuple(ids)


def _parse_moment(value: Any, zone: ZoneInfo, what: str) -> dt.datetime | dt.date:
    """A date (all-day) or a wall-clock datetime in `zone`; offsets are converted to `zone`."""
    if isinstance(value, dt.datetime):
        parsed: dt.datetime | dt.date = value
    elif isinstance(value, dt.date):
        return value
    else:
        text = _text(value).replace(" ", "T", 1)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{what} '{_text(value)}' is not an ISO date or date-time") from None
    if isinstance(parsed, dt.datetime):
        return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)
    return parsed


def parse_appointment(record: Any, timezone: str = "Europe/Berlin") -> Appointment | Rejected:
    """One appointment record -> Appointment, or Rejected naming the record and the reason."""
    if not isinstance(record, Mapping):
        return Rejected("?", f"appointment record is a {type(record).__name__}, not an object")
    app_id = record_id(record, APPOINTMENT_ID)
    if app_id == "?":
        return Rejected("?", f"appointment without an id (expected one of {', '.join(APPOINTMENT_ID)})")
    try:
        zone = ZoneInfo(_text(record.get("timezone")) or timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return Rejected(app_id, f"unknown time zone '{record.get('timezone')}'")
    title = _text(first(record, APPOINTMENT_TITLE))
    raw_start, raw_end = first(record, APPOINTMENT_START), first(record, APPOINTMENT_END)
    if raw_start is None:
        return Rejected(app_id, "no start date")
    try:
        start = _parse_moment(raw_start, zone, "start")
        end = _parse_moment(raw_end, zone, "end") if raw_end is not None else None
    except ValueError as exc:
        return Rejected(app_id, str(exc))
    all_day_flag = first(record, APPOINTMENT_ALL_DAY)
    all_day = _bool(all_day_flag) if all_day_flag is not None else not isinstance(start, dt.datetime)
    if all_day:
        start_day = start.date() if isinstance(start, dt.datetime) else start
        if end is None:
            end_day = start_day + dt.timedelta(days=1)
        elif isinstance(end, dt.datetime) and end.time() == dt.time(0) and end.date() > start_day:
            end_day = end.date()  # given as exclusive midnight already
        else:
            end_day = (end.date() if isinstance(end, dt.datetime) else end) + dt.timedelta(days=1)
        start, end = start_day, end_day
    else:
        if not isinstance(start, dt.datetime):
            return Rejected(app_id, "start has no time of day but the appointment is not all-day")
        if end is None:
            return Rejected(app_id, "no end time")
        if not isinstance(end, dt.datetime):
            end = dt.datetime.combine(end, dt.time(), zone)
    if end <= start:
        return Rejected(app_id, f"end {end.isoformat()} is not after start {start.isoformat()}")
    status = _text(first(record, APPOINTMENT_STATUS)).lower()
    cancelled_flag = first(record, APPOINTMENT_CANCELLED)
    return Appointment(
        id=app_id,
        title=title or "(ohne Titel)",
        start=start,
        end=end,
        timezone=zone.key,
        all_day=all_day,
        description=_text(first(record, APPOINTMENT_DESCRIPTION)),
        location=_address(first(record, APPOINTMENT_ADDRESS)),
        customer=_customer(first(record, APPOINTMENT_CUSTOMER)),
        project_number=_text(first(record, APPOINTMENT_PROJECT)),
        category=_text(first(record, APPOINTMENT_CATEGORY)),
        employee_ids=_employee_ids(first(record, APPOINTMENT_EMPLOYEES)),
        cancelled=(_bool(cancelled_flag) if cancelled_flag is not None else False) or status in CANCELLED_STATUS,
    )


def unwrap_page(payload: Any) -> list:
    """The record list of a page: a bare list or a dict holding one under a common key."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        for key in ("items", "data", "results", "records", "appointments", "employees", "termine"):
            if isinstance(payload.get(key), list):
                return payload[key]
    raise ValueError(f"expected a list of records, got {type(payload).__name__}")
