"""Appointment + employee -> the event we want in that employee's calendar. Never attendees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from oh_outlook_provider.graph.timezones import graph_timezone
from oh_outlook_provider.sync import canonical, fingerprint
from oh_outlook_provider.sync.categories import outlook_name
from oh_outlook_provider.sync.event_kinds import SENSITIVITY_DEFAULTS, SHOW_AS_DEFAULTS, casefolded, kind_of
from oh_outlook_provider.sync.models import Appointment, PostalAddress, as_utc
from oh_outlook_provider.sync.tags import (
    FINGERPRINT_PROP,
    KEY_PROP,
    SOURCE_PROP,
    EventKey,
    transaction_id,
)

MAP_URL = "https://www.google.com/maps/search/?api=1&query={query}"
FOOTER = "Synchronisiert aus openHandwerk. Änderungen bitte in openHandwerk vornehmen; hier werden sie überschrieben."
UNTITLED = "(ohne Titel)"  # a title with nothing to show
# Every physicalAddress property, empty: a PATCH that may merge complex values (OData 4.01, 11.4.3)
# still clears an address openHandwerk no longer gives (fidelity row E6).
NO_ADDRESS = {"street": "", "postalCode": "", "city": "", "state": "", "countryOrRegion": ""}


@dataclass(frozen=True)
class RenderOptions:
    """How appointments look in Outlook; all optional."""

    web_url: str | None = None  # openHandwerk web app; events link back to the appointment
    # openHandwerk category -> Outlook category name (categories.outlook_name); unnamed ones keep their own
    category_map: Mapping[str, str] = field(default_factory=dict)
    categories: bool = True  # False: events carry no category at all
    reminder_minutes: int | None = 15  # None = no reminder
    show_as: str = "busy"  # for categories the map does not name
    sensitivity: str = "normal"
    # Category (casefolded) -> showAs / sensitivity (event_kinds has the defaults and why).
    show_as_map: Mapping[str, str] = field(default_factory=lambda: casefolded(SHOW_AS_DEFAULTS))
    sensitivity_map: Mapping[str, str] = field(default_factory=lambda: casefolded(SENSITIVITY_DEFAULTS))
    # A route link in the body for appointments with an address; "{query}" is the address, URL-encoded.
    # Google's cross-platform Maps URL opens the maps app on Android and iOS; None leaves it out.
    map_url: str | None = MAP_URL

    def __post_init__(self) -> None:
        object.__setattr__(self, "category_map", casefolded(self.category_map))


@dataclass(eq=False)
class DesiredEvent:
    """The event one employee's calendar should hold for one appointment.

    Only the digests are kept; the Graph JSON and the per-field texts are rebuilt on demand
    (for creates, updates and conflicts), so a run over 100,000 unchanged appointments holds
    little more than the appointments themselves.
    """

    key: EventKey
    appointment: Appointment
    options: RenderOptions
    start_utc: dt.datetime
    digest: str  # of all managed fields
    comparable_digest: str  # of the fields Graph gives back faithfully
    categories: tuple[str, ...] = ()  # the category names it carries (categories_of)

    @cached_property
    def _rendered(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        return _fields_and_texts(self.appointment, self.options)

    @property
    def fields(self) -> dict[str, Any]:
        """Graph JSON of every managed field."""
        return self._rendered[0]

    @property
    def texts(self) -> tuple[str, ...]:
        """Canonical text per MANAGED field."""
        return self._rendered[1]

    @cached_property
    def hashes(self) -> dict[str, str]:
        return fingerprint.per_field(fingerprint.MANAGED, self.texts)

    def tags(self) -> list[dict[str, str]]:
        return [
            {"id": SOURCE_PROP, "value": self.key.source},
            {"id": KEY_PROP, "value": str(self.key)},
            {"id": FINGERPRINT_PROP, "value": fingerprint.encode(fingerprint.stamp(self.texts))},
        ]

    def create_body(self, salt: str) -> dict[str, Any]:
        return {**self.fields, "singleValueExtendedProperties": self.tags(),
                "transactionId": transaction_id(self.key, salt)}


def _moment(value: dt.datetime | dt.date, zone: str) -> dict[str, str]:
    if isinstance(value, dt.datetime):
        value = _to_minute(value)
        local = value if value.tzinfo is None else value.astimezone(ZoneInfo(zone))
        if not _unique_wall_time(local):
            # 02:30 on the autumn day names two instants and a wall time cannot say which (Graph's
            # dateTimeTimeZone has no offset): send the instant in UTC. Outlook shows it in the
            # reader's zone all the same, and reads back as the same wall time (see fingerprint).
            utc = local.astimezone(dt.UTC).replace(tzinfo=None)
            return {"dateTime": utc.isoformat(timespec="seconds"), "timeZone": "UTC"}
        return {"dateTime": local.replace(tzinfo=None).isoformat(timespec="seconds"), "timeZone": graph_timezone(zone)}
    return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": graph_timezone(zone)}


def _unique_wall_time(local: dt.datetime) -> bool:
    """Whether this wall-clock time names one instant in its zone (not the repeated or skipped hour)."""
    if local.tzinfo is None:
        return True
    other = local.replace(fold=1 - local.fold)
    return other.utcoffset() == local.utcoffset()


def _moment_text(value: dt.datetime | dt.date, zone: str, all_day: bool) -> str:
    """fingerprint.text_of for the moment `_moment` builds, without building and parsing it."""
    if all_day or not isinstance(value, dt.datetime):
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    # tzinfo and fold in the key: aware times of one instant in two zones compare equal, and so do the two
    # 02:30 of the night the clocks go back (fold 0 and 1) in one zone
    return _timed_text(value, value.tzinfo, value.fold, zone)


@lru_cache(maxsize=fingerprint.MOMENTS_CACHED)
def _timed_text(value: dt.datetime, tzinfo: dt.tzinfo | None, fold: int, zone: str) -> str:
    value = _to_minute(value)
    local = value if value.tzinfo is None else value.astimezone(fingerprint.zone(zone))
    return fingerprint.utc_text(local.replace(tzinfo=None), graph_timezone(zone))


def _to_minute(value: dt.datetime) -> dt.datetime:
    """Times are written to the minute: whether Exchange keeps seconds is not documented (fidelity
    row E9), and a time of whole minutes comes back the same either way (zone and fold are kept)."""
    return value.replace(second=0, microsecond=0) if value.second or value.microsecond else value


def subject(appointment: Appointment) -> str:
    """The subject in canonical form (sync/canonical.py): what Exchange keeps as sent."""
    return canonical.one_line(appointment.title) or UNTITLED


def body_text(appointment: Appointment, options: RenderOptions) -> str:
    lines = [appointment.description.strip()] if appointment.description.strip() else []
    facts = [
        ("Kunde", appointment.customer),
        ("Einsatzort", appointment.location),
        ("Projekt", appointment.project_number),
        ("Terminart", appointment.category),
    ]
    detail = [f"{label}: {value}" for label, value in facts if value]
    if detail:
        lines.append("\n".join(detail))
    if appointment.address is not None and options.map_url:
        lines.append(_route(appointment.address, options.map_url))
    if options.web_url:
        lines.append(f"In openHandwerk öffnen: {options.web_url}/termine/{appointment.id}")
    lines.append(f"— {FOOTER} (Termin {appointment.id})")
    return "\n\n".join(lines)


@lru_cache(maxsize=4096)  # customers' addresses repeat across appointments and employees
def _route(address: PostalAddress, map_url: str) -> str:
    return f"Route: {map_url.format(query=quote_plus(address.display()))}"


def location(appointment: Appointment) -> dict[str, Any]:
    """Graph's `location`: the line as shown and, when openHandwerk gave the parts, a `physicalAddress`
    (Outlook on a phone offers directions to it). Only `displayName` is compared after a round trip
    (fingerprint): how Graph echoes an address is not documented, and the body carries it instead."""
    address = appointment.address
    shown = canonical.one_line(appointment.location)  # one line, as Exchange keeps it (fidelity rows E7, E8)
    if address is None:
        return {"displayName": shown}
    return {"displayName": shown,
            "address": {**NO_ADDRESS, "street": address.street, "postalCode": address.postal_code,
                        "city": address.city, "countryOrRegion": address.country}}


def _show_as(appointment: Appointment, options: RenderOptions) -> str:
    return kind_of(appointment.category, options.show_as_map, options.show_as)


def _sensitivity(appointment: Appointment, options: RenderOptions) -> str:
    return kind_of(appointment.category, options.sensitivity_map, options.sensitivity)


def categories_of(appointment: Appointment, options: RenderOptions) -> list[str]:
    if not options.categories:
        return []
    # canonical before the map and after it: outlook_name's cut counts code points, Exchange UTF-16 units
    name = outlook_name(canonical.one_line(appointment.category), options.category_map)
    return canonical.category_names([name] if name else [])


def _fields_and_texts(appointment: Appointment, options: RenderOptions) -> tuple[dict[str, Any], tuple[str, ...]]:
    all_day = appointment.all_day
    categories = categories_of(appointment, options)
    fields: dict[str, Any] = {
        "subject": subject(appointment),
        "body": {"contentType": "text", "content": body_text(appointment, options)},
        "start": _moment(appointment.start, appointment.timezone),
        "end": _moment(appointment.end, appointment.timezone),
        "isAllDay": all_day,
        "location": location(appointment),
        "categories": categories,
        "showAs": _show_as(appointment, options),
        "isReminderOn": options.reminder_minutes is not None and not all_day,
        "reminderMinutesBeforeStart": options.reminder_minutes or 0,
        "sensitivity": _sensitivity(appointment, options),
    }
    return fields, _texts(appointment, options, fields["body"]["content"], categories)


def _texts(appointment: Appointment, options: RenderOptions, body: str | None = None,
           categories: list[str] | None = None) -> tuple[str, ...]:
    """What fingerprint.texts(fields) gives, built straight from the appointment (a test holds them equal):
    the hot path of a run, so no Graph JSON is built for events that turn out unchanged."""
    all_day = appointment.all_day
    if categories is None:
        categories = categories_of(appointment, options)
    return (
        subject(appointment),
        body if body is not None else body_text(appointment, options),
        _moment_text(appointment.start, appointment.timezone, all_day),
        _moment_text(appointment.end, appointment.timezone, all_day),
        "true" if all_day else "false",
        canonical.one_line(appointment.location),
        fingerprint.categories_text(categories),
        _show_as(appointment, options),
        "true" if options.reminder_minutes is not None and not all_day else "false",
        str(options.reminder_minutes or 0),
        _sensitivity(appointment, options),
    )


def render(appointment: Appointment, employee_id: str, source: str, options: RenderOptions,
           start_utc: dt.datetime | None = None) -> DesiredEvent:
    """The desired event; raises ValueError with a reason when the appointment cannot be shown."""
    return render_each(appointment, (employee_id,), source, options, start_utc)[0]


def render_each(appointment: Appointment, employee_ids: Sequence[str], source: str, options: RenderOptions,
                start_utc: dt.datetime | None = None) -> list[DesiredEvent]:
    """The desired event of each employee, in order; the appointment's texts and digests are worked out
    once for all of them (they name no employee). Raises ValueError as `render` does."""
    if appointment.all_day and (isinstance(appointment.start, dt.datetime) or isinstance(appointment.end, dt.datetime)):
        raise ValueError("all-day appointment with times of day")
    categories = categories_of(appointment, options)
    texts = _texts(appointment, options, categories=categories)
    start_utc = start_utc or as_utc(appointment.start, appointment.timezone)
    digest, comparable = fingerprint.digest(fingerprint.MANAGED, texts), fingerprint.comparable_digest(texts)
    names = tuple(categories)
    return [DesiredEvent(key=EventKey(source, appointment.id, employee_id), appointment=appointment, options=options,
                         start_utc=start_utc, digest=digest, comparable_digest=comparable, categories=names)
            for employee_id in employee_ids]
